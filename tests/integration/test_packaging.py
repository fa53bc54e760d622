# SPDX-License-Identifier: ISC
"""Debian packages from `make deb`: installable, and right.

Focus of this file: the three packages debian/ describes and `make deb`
builds with debhelper (packaging/deb.sh): encore-main, encore-worker,
encore-tools.  Each is unpacked with `dpkg-deb -x` into a scratch root and
its binaries run from there with `--version` against the system's
libraries; the control data (Depends, conffiles, maintainer scripts), the
systemd units and the hardening of the binaries are checked as files, and
lintian must report no error and no warning.  `make install` is checked
into a scratch DESTDIR.  Installing into the real system (dpkg -i, with its
maintainer scripts) is a manual step, described in the README's Install
section.

Skipped, with the reason, where dpkg-buildpackage, debhelper or lintian
are missing (`packaging/deps.sh test` installs them).
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

# The packages are built from the sources with their own flags, whatever
# ENCORE_BIN is: the sanitizer pass of `make test` would build them twice.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("ENCORE_ASAN")),
    reason="packages do not depend on the sanitizer build; the normal pass "
           "of make test checks them")

PACKAGES = {
    "encore-main": ["encore-main"],
    "encore-worker": ["encore-worker"],
    "encore-tools": ["encore", "encore-top"],
}
MANPAGES = {
    "encore-main": ["man8/encore-main.8"],
    "encore-worker": ["man8/encore-worker.8"],
    "encore-tools": ["man1/encore.1", "man1/encore-top.1"],
}


def clean_env(**extra):
    """The environment without the outer make's variables (O=, BIN=, SAN=)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    for tool, pkg in (("dpkg-deb", "dpkg"), ("dpkg-buildpackage", "dpkg-dev"),
                      ("dh", "debhelper")):
        if shutil.which(tool) is None:
            pytest.skip("%s not found (package %s; packaging/deps.sh test "
                        "installs it)" % (tool, pkg))
    out = tmp_path_factory.mktemp("deb")
    r = subprocess.run(["make", "-C", ROOT, "deb"], capture_output=True,
                       text=True, timeout=900, env=clean_env(DEB_OUT=str(out)))
    assert r.returncode == 0, "make deb failed:\n%s%s" % (r.stdout, r.stderr)
    found = {}
    for name in os.listdir(out):
        m = re.match(r"^([a-z-]+)_([^_]+)_([a-z0-9]+)\.deb$", name)
        if m:
            found[m.group(1)] = os.path.join(out, name)
    assert sorted(found) == sorted(PACKAGES), os.listdir(out)
    return found


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True,
                          text=True, check=True).stdout.strip()


def control_file(deb, name, tmp_path):
    d = tmp_path / ("ctl-" + os.path.basename(deb))
    if not d.exists():
        subprocess.run(["dpkg-deb", "-e", deb, str(d)], check=True)
    p = d / name
    return p.read_text() if p.exists() else None


def listing(deb):
    """{path: (mode string, owner)} of the files in deb."""
    out = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True,
                         text=True, check=True).stdout
    files = {}
    for line in out.splitlines():
        parts = line.split()
        path = parts[5]
        files[path[1:] if path.startswith("./") else path] = (parts[0],
                                                               parts[1])
    return files


def unit_path(files, name):
    """Where the package puts the systemd unit name (/lib or /usr/lib)."""
    for d in ("/lib/systemd/system/", "/usr/lib/systemd/system/"):
        if d + name in files:
            return d + name
    raise AssertionError("no %s in %s" % (name, sorted(files)))


@pytest.mark.parametrize("pkg", sorted(PACKAGES))
def test_unpacked_binaries_run(debs, pkg, tmp_path):
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", debs[pkg], str(root)], check=True)
    for b in PACKAGES[pkg]:
        path = root / "usr" / "bin" / b
        assert path.exists(), "%s lacks /usr/bin/%s" % (pkg, b)
        assert os.stat(path).st_mode & 0o111
        r = subprocess.run([str(path), "--version"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r
        assert r.stdout.startswith(b + " "), r.stdout
        assert field(debs[pkg], "Version") in r.stdout


def test_version_is_the_code_version():
    """debian/changelog's version is protocol.h's ENCORE_VERSION."""
    with open(os.path.join(ROOT, "protocol", "protocol.h")) as f:
        code = re.search(r'#define ENCORE_VERSION\s+"([^"]+)"', f.read())
    with open(os.path.join(ROOT, "debian", "changelog")) as f:
        deb = re.match(r"^encore \(([^)]+)\)", f.readline())
    assert code and deb and code.group(1) == deb.group(1), (
        "add a debian/changelog entry for %s" % code.group(1))


def test_depends_follow_what_each_binary_links(debs):
    dep = {p: field(debs[p], "Depends") for p in debs}
    assert all("libjson-c5" in d for d in dep.values()), dep
    assert "libevent-2.1-7" in dep["encore-main"], dep
    assert "libevent-2.1-7" in dep["encore-tools"], dep
    # The worker links libevent's parts, not libevent.so (Makefile).
    for lib in ("libevent-core-2.1-7", "libevent-extra-2.1-7"):
        assert lib in dep["encore-worker"], dep
    assert "libevent-2.1-7 " not in dep["encore-worker"], dep
    assert "libsqlite3-0" in dep["encore-main"]
    assert "libssl3" in dep["encore-main"]
    # Its TLS is Mbed TLS; libproc2 and libcrypto's SHA-256 come from
    # their archives, so neither they nor libsystemd load (README,
    # "Dependencies").
    for lib in ("libmbedtls14", "libmbedx509-1", "libmbedcrypto7"):
        assert lib in dep["encore-worker"], dep
    for lib in ("libproc2-0", "libssl3", "libevent-openssl", "libsystemd0"):
        assert lib not in dep["encore-worker"], dep
    assert "libncursesw6" in dep["encore-tools"]
    # README: the worker links no SQLite and no ncurses.
    assert "sqlite" not in dep["encore-worker"]
    assert "ncurses" not in dep["encore-worker"]
    assert "sqlite" not in dep["encore-tools"]
    # The postinsts call adduser.
    for p in ("encore-main", "encore-worker"):
        assert re.search(r"(^|, )adduser($|,| )", dep[p]), dep[p]


def test_binaries_are_hardened(debs, tmp_path):
    """dpkg-buildflags reach the build: fortify, PIE, full RELRO."""
    if shutil.which("readelf") is None:
        pytest.skip("readelf not found (package binutils)")
    root = tmp_path / "root"
    for pkg in PACKAGES:
        subprocess.run(["dpkg-deb", "-x", debs[pkg], str(root)], check=True)
    fortified = 0
    for bins in PACKAGES.values():
        for b in bins:
            path = str(root / "usr" / "bin" / b)
            dyn = subprocess.run(["readelf", "-dW", path], capture_output=True,
                                 text=True, check=True).stdout
            assert "BIND_NOW" in dyn or "NOW" in dyn, (b, dyn)
            assert "PIE" in dyn, (b, dyn)
            seg = subprocess.run(["readelf", "-lW", path],
                                 capture_output=True, text=True,
                                 check=True).stdout
            assert "GNU_RELRO" in seg, b
            syms = subprocess.run(["readelf", "--dyn-syms", "-W", path],
                                  capture_output=True, text=True,
                                  check=True).stdout
            fortified += "_chk" in syms
    # _FORTIFY_SOURCE (from CPPFLAGS) turns string calls into __*_chk.
    assert fortified == 4


def test_daemon_packages_files_and_scripts(debs, tmp_path):
    for pkg, role, group in (("encore-main", "main", "encore"),
                             ("encore-worker", "worker", "encore-worker")):
        deb = debs[pkg]
        files = listing(deb)
        unit_path(files, pkg + ".service")
        for path in ("/etc/encore/%s.conf" % role, "/etc/default/%s" % pkg,
                     "/usr/share/doc/%s/copyright" % pkg,
                     "/usr/share/doc/%s/changelog.gz" % pkg):
            assert path in files, "%s lacks %s" % (pkg, path)
        conffiles = control_file(deb, "conffiles", tmp_path).split()
        assert "/etc/encore/%s.conf" % role in conffiles
        assert "/etc/default/%s" % pkg in conffiles
        for script in ("postinst", "prerm", "postrm"):
            text = control_file(deb, script, tmp_path)
            assert text is not None, "%s has no %s" % (pkg, script)
            r = subprocess.run(["sh", "-n"], input=text, text=True)
            assert r.returncode == 0, "%s %s: syntax error" % (pkg, script)
            # The service is enabled, started and stopped through
            # deb-systemd-helper and deb-systemd-invoke, which respect an
            # administrator's disable; never systemctl enable/start.
            for line in text.splitlines():
                if re.match(r"\s*([^#]*[;&|]\s*)?systemctl\s", line):
                    assert "daemon-reload" in line, (pkg, script, line)
        # Continued lines joined.
        postinst = re.sub(r"\\\n\s*", "", control_file(deb, "postinst",
                                                       tmp_path))
        assert "deb-systemd-helper --quiet was-enabled" in postinst
        assert "adduser --quiet --system" in postinst
        # Config files may hold tokens: 0640 root:GROUP, kept by dpkg
        # across upgrades (a statoverride).
        for f in ("/etc/encore/%s.conf" % role, "/etc/default/%s" % pkg):
            assert f in postinst
        assert "dpkg-statoverride --update --add root %s 0640" % group \
            in postinst
        prerm = control_file(deb, "prerm", tmp_path)
        assert "deb-systemd-invoke stop" in prerm
        assert "dpkg-statoverride --remove" in control_file(deb, "postrm",
                                                           tmp_path)
    # The worker starts only once it has a main node; the main node on
    # install, through debhelper's snippet.
    main_postinst = control_file(debs["encore-main"], "postinst", tmp_path)
    assert "deb-systemd-invoke $_dh_action 'encore-main.service'" in \
        main_postinst or "deb-systemd-invoke restart 'encore-main.service'" \
        in main_postinst, main_postinst
    # Everything a package ships is owned by root.
    for deb in debs.values():
        for path, (mode, owner) in listing(deb).items():
            assert owner == "root/root", (path, owner)
    copyright = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", debs["encore-tools"]],
        capture_output=True, check=True).stdout
    assert b"License: ISC" in copyright and b"Copyright: " in copyright


def test_units(debs, tmp_path):
    root = tmp_path / "root"
    for pkg in ("encore-main", "encore-worker"):
        subprocess.run(["dpkg-deb", "-x", debs[pkg], str(root)], check=True)
    units = {}
    for pkg in ("encore-main", "encore-worker"):
        path = unit_path(listing(debs[pkg]), pkg + ".service")
        units[pkg] = (root / path.lstrip("/")).read_text()
    main, worker = units["encore-main"], units["encore-worker"]
    for unit, user, state in ((main, "encore", "encore"),
                              (worker, "encore-worker", "encore-worker")):
        assert "\nUser=%s\n" % user in unit
        assert "\nStateDirectory=%s\n" % state in unit
        assert "\nRestart=on-failure\n" in unit
        assert "\nRestartPreventExitStatus=2\n" in unit
        assert "\nProtectSystem=strict\n" in unit
        assert "\nReadWritePaths=/var/lib/%s\n" % state in unit
        assert "\nProtectHome=yes\n" in unit and "\nPrivateTmp=yes\n" in unit
        assert "--config /etc/encore/" in unit
        assert "Documentation=man:" in unit
    assert "EnvironmentFile=-/etc/default/encore-main" in main
    assert "$ENCORE_MAIN_OPTS" in main
    assert "\nNoNewPrivileges=yes\n" in main
    # README: the secrets live in a directory of mode 0700.
    assert "\nStateDirectoryMode=0700\n" in main
    # README: 10,000 devices, a descriptor each.
    m = re.search(r"\nLimitNOFILE=(\d+)\n", main)
    assert m and int(m.group(1)) >= 65536, main
    # The worker keeps what podman needs (see the unit's comment), and
    # makes a cgroup per task.
    assert "\nNoNewPrivileges=yes" not in worker
    assert "\nDelegate=yes\n" in worker
    if shutil.which("systemd-analyze") is None:
        return
    for pkg in ("encore-main", "encore-worker"):
        r = subprocess.run(["systemd-analyze", "verify", "--root=" + str(root),
                            "--man=no", "--recursive-errors=no",
                            os.path.join(str(root), unit_path(
                                listing(debs[pkg]), pkg + ".service")
                                .lstrip("/"))],
                           capture_output=True, text=True)
        # Only the unit's own syntax: the binary is in the scratch root.
        bad = [l for l in r.stderr.splitlines()
               if "Unknown key" in l or "Failed to parse" in l
               or "Unknown section" in l]
        assert not bad, r.stderr
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--root=" + str(root), "encore-main.service"],
                       capture_output=True, text=True)
    m = re.search(r"exposure level for encore-main.service: ([0-9.]+)",
                  r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_lintian_clean(debs):
    """No lintian error or warning on any package (info tags are shown)."""
    if shutil.which("lintian") is None:
        pytest.skip("lintian not found (packaging/deps.sh test installs it)")
    r = subprocess.run(["lintian", "--display-level", ">=info",
                        "--fail-on", "error,warning"] + sorted(debs.values()),
                       capture_output=True, text=True, timeout=600)
    print("lintian:\n" + r.stdout + r.stderr)
    tags = [l for l in r.stdout.splitlines() if re.match(r"^[EW]: ", l)]
    assert not tags and r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("pkg", sorted(PACKAGES))
def test_packages_ship_man_pages(debs, pkg):
    files = listing(debs[pkg])
    for page in MANPAGES[pkg]:
        assert "/usr/share/man/%s.gz" % page in files, (pkg, sorted(files))
    if pkg == "encore-tools":
        assert "/usr/share/bash-completion/completions/encore" in files


def test_make_install(tmp_path):
    """make install: binaries, man pages, completion, example configs."""
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-C", ROOT, "install", "DESTDIR=" + str(dest),
                        "PREFIX=/usr/local"], capture_output=True, text=True,
                       timeout=600, env=clean_env())
    assert r.returncode == 0, r.stdout + r.stderr
    pre = dest / "usr" / "local"
    for b in ("encore-main", "encore-worker", "encore", "encore-top"):
        assert os.access(pre / "bin" / b, os.X_OK), b
    for pages in MANPAGES.values():
        for page in pages:
            assert (pre / "share" / "man" / page).is_file(), page
    assert (pre / "share/bash-completion/completions/encore").is_file()
    for conf in ("main.conf", "worker.conf"):
        assert (pre / "share" / "encore" / conf).is_file()


def test_cross_worker_deb(tmp_path):
    """make deb CROSS=aarch64-linux-gnu: an arm64 encore-worker package."""
    triplet, qemu = "aarch64-linux-gnu", "qemu-aarch64-static"
    if shutil.which(triplet + "-gcc") is None or shutil.which(qemu) is None:
        pytest.skip("%s-gcc or %s not installed (packaging/deps.sh installs "
                    "them)" % (triplet, qemu))
    r = subprocess.run(["apt-cache", "show", "libevent-dev:arm64"],
                       capture_output=True)
    if r.returncode != 0 and not os.path.exists(
            os.path.join(ROOT, "build", "sysroot", triplet, ".complete")):
        pytest.skip("no arm64 package index (packaging/deps.sh adds it)")
    if shutil.which("dh") is None:
        pytest.skip("debhelper not installed (packaging/deps.sh test "
                    "installs it)")
    r = subprocess.run(["make", "-C", ROOT, "deb", "CROSS=" + triplet],
                       capture_output=True, text=True, timeout=900,
                       env=clean_env(DEB_OUT=str(tmp_path / "out")))
    assert r.returncode == 0, r.stdout + r.stderr
    debs = os.listdir(tmp_path / "out")
    assert debs == ["encore-worker_%s_arm64.deb" % field(
        str(tmp_path / "out" / debs[0]), "Version")], debs
    deb = str(tmp_path / "out" / debs[0])
    assert field(deb, "Architecture") == "arm64"
    dep = field(deb, "Depends")
    assert "libmbedtls14" in dep and "sqlite" not in dep
    assert "libproc2-0" not in dep and "libssl3" not in dep
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    r = subprocess.run([qemu, "-L", os.path.join(ROOT, "build", "sysroot",
                                                 triplet),
                        str(root / "usr/bin/encore-worker"), "--version"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("encore-worker "), r
