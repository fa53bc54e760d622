# SPDX-License-Identifier: ISC
"""Debian packages from `make deb`: installable, and right.

Focus of this file: the three packages packaging/deb.sh builds
(encore-main, encore-worker, encore-tools).  Each is unpacked with
`dpkg-deb -x` into a scratch root and its binaries run from there with
`--version` against the system's libraries; the control data (Depends,
conffiles, maintainer scripts) and the systemd units are checked as files.
Installing into the real system (dpkg -i, with its maintainer scripts) is
a manual step, described in the README's Install section.
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

PACKAGES = {
    "encore-main": ["encore-main"],
    "encore-worker": ["encore-worker"],
    "encore-tools": ["encore", "encore-top"],
}


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb not found: not a Debian system")
    out = tmp_path_factory.mktemp("deb")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env["DEB_OUT"] = str(out)
    r = subprocess.run(["make", "-C", ROOT, "deb"], capture_output=True,
                       text=True, timeout=600, env=env)
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


def test_depends_follow_what_each_binary_links(debs):
    dep = {p: field(debs[p], "Depends") for p in debs}
    for lib in ("libevent-2.1-7", "libjson-c5"):
        assert all(lib in d for d in dep.values()), dep
    assert "libsqlite3-0" in dep["encore-main"]
    assert "libproc2-0" in dep["encore-worker"]
    assert "libncursesw6" in dep["encore-tools"]
    # SPEC section 1: the worker links no SQLite and no ncurses.
    assert "sqlite" not in dep["encore-worker"]
    assert "ncurses" not in dep["encore-worker"]
    assert "sqlite" not in dep["encore-tools"]


def test_daemon_packages_files_and_scripts(debs, tmp_path):
    for pkg, role in (("encore-main", "main"), ("encore-worker", "worker")):
        deb = debs[pkg]
        listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True,
                                 text=True, check=True).stdout
        for path in ("./lib/systemd/system/%s.service" % pkg,
                     "./usr/lib/sysusers.d/%s.conf" % pkg,
                     "./etc/encore/%s.conf" % role,
                     "./etc/default/%s" % pkg):
            assert path in listing, "%s lacks %s" % (pkg, path)
        conffiles = control_file(deb, "conffiles", tmp_path).split()
        assert "/etc/encore/%s.conf" % role in conffiles
        assert "/etc/default/%s" % pkg in conffiles
        for script in ("postinst", "prerm", "postrm"):
            text = control_file(deb, script, tmp_path)
            assert text is not None, "%s has no %s" % (pkg, script)
            r = subprocess.run(["sh", "-n"], input=text, text=True)
            assert r.returncode == 0, "%s %s: syntax error" % (pkg, script)
            # systemctl only where systemd runs: chroots and scratch
            # roots must not fail.
            for line in text.splitlines():
                if line.lstrip().startswith("systemctl "):
                    assert "|| true" in line, line
            assert "/run/systemd/system" in text or "systemctl" not in text
    # Everything a package ships is owned by root.
    listing = subprocess.run(["dpkg-deb", "-c", debs["encore-tools"]],
                             capture_output=True, text=True, check=True).stdout
    assert all(" root/root " in l for l in listing.splitlines()), listing


def test_units_hardening(debs, tmp_path):
    root = tmp_path / "root"
    for pkg in ("encore-main", "encore-worker"):
        subprocess.run(["dpkg-deb", "-x", debs[pkg], str(root)], check=True)
    main = (root / "lib/systemd/system/encore-main.service").read_text()
    worker = (root / "lib/systemd/system/encore-worker.service").read_text()
    for unit, user, state in ((main, "encore", "encore"),
                              (worker, "encore-worker", "encore/worker")):
        assert "\nUser=%s\n" % user in unit
        assert "\nStateDirectory=%s\n" % state in unit
        assert "\nRestart=on-failure\n" in unit
        assert "\nProtectSystem=strict\n" in unit
        assert "\nReadWritePaths=/var/lib/%s\n" % state in unit
        assert "\nProtectHome=yes\n" in unit and "\nPrivateTmp=yes\n" in unit
        assert "--config /etc/encore/" in unit
    assert "EnvironmentFile=-/etc/default/encore-main" in main
    assert "$ENCORE_MAIN_OPTS" in main
    assert "\nNoNewPrivileges=yes\n" in main
    # The worker keeps what podman needs (see the unit's comment).
    assert "\nNoNewPrivileges=yes" not in worker
    if shutil.which("systemd-analyze") is None:
        return
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--root=" + str(root), "encore-main.service"],
                       capture_output=True, text=True)
    m = re.search(r"exposure level for encore-main.service: ([0-9.]+)",
                  r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


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
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env["DEB_OUT"] = str(tmp_path / "out")
    r = subprocess.run(["make", "-C", ROOT, "deb", "CROSS=" + triplet],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = os.listdir(tmp_path / "out")
    assert debs == ["encore-worker_%s_arm64.deb" % field(
        str(tmp_path / "out" / debs[0]), "Version")], debs
    deb = str(tmp_path / "out" / debs[0])
    assert field(deb, "Architecture") == "arm64"
    dep = field(deb, "Depends")
    assert "libproc2-0" in dep and "sqlite" not in dep
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    r = subprocess.run([qemu, "-L", os.path.join(ROOT, "build", "sysroot",
                                                 triplet),
                        str(root / "usr/bin/encore-worker"), "--version"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("encore-worker "), r
