// SPDX-License-Identifier: ISC
// encore's web dashboard (README, "Web dashboard and Prometheus"; the API
// is protocol/HTTP.md).  Plain JavaScript in strict mode, no framework,
// nothing fetched but /api/v1 of the main node that served the page.
//
// Listings need no token, so the page polls them; once the operator token
// is entered (kept only in sessionStorage, sent as Authorization: Bearer)
// it follows /api/v1/events as well.  EventSource cannot send that header,
// so the stream is read with fetch() and its body's reader, and parsed
// here.  Nothing from the main node is ever put into the page as HTML:
// every string goes in through textContent.
"use strict";

(function () {
	const TOKEN_KEY = "encore.operator_token";
	const POLL_FAST = 2000;		// ms between listings without events
	const POLL_SLOW = 30000;	// ms with events (a resync)
	const LOGS_EVERY = 1000;	// ms between output polls of a live task
	const STREAM_SILENT = 45000;	// ms without a byte: reconnect
	const STREAM_BUF_MAX = 4 << 20;	// bytes of a partial event kept
	const OUTPUT_SHOWN_MAX = 512 * 1024;	// characters of output shown
	const TASKS_LIMIT = 500;
	const FINAL = new Set(["completed", "failed", "timed_out", "cancelled"]);

	const S = {
		token: "",
		devices: new Map(),	// id -> DEVICE
		tasks: new Map(),	// id -> TASK
		tasksMore: false,
		status: null,
		selected: null,		// task id shown in the detail
		detail: null,		// its TASK (full when signed in)
		logsGen: 0,
		streamGen: 0,
		streamCtl: null,
		streamLive: false,
		streamLast: 0,
		pollTimer: 0,
		reachable: true,
		confirmTimer: 0,
		ended: new Set(),	// ids seen in a final state
	};

	const $ = (id) => document.getElementById(id);

	// ---- small helpers ----

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	function sleep(ms) {
		return new Promise((r) => setTimeout(r, ms));
	}

	function num(v) {
		return typeof v === "number" && isFinite(v) ? v : null;
	}

	function pct(v) {
		const n = num(v);
		return n === null ? "–" : Math.round(n) + "%";
	}

	function stateClass(s) {
		return "st-" + String(s || "unknown").replace(/[^a-z_]/g, "");
	}

	function stateText(s) {
		return String(s || "unknown").replace(/_/g, " ");
	}

	function when(iso) {
		if (!iso)
			return "–";
		const d = new Date(iso);
		if (isNaN(d.getTime()))
			return String(iso);
		return d.toLocaleString();
	}

	function say(text, isError) {
		const m = $("message");
		m.textContent = text || "";
		m.classList.toggle("error", !!isError);
	}

	function encodeId(id) {
		return encodeURIComponent(String(id));
	}

	// ---- the API ----

	class ApiError extends Error {
		constructor(status, code, message) {
			super(message);
			this.status = status;
			this.code = code;
		}
	}

	// One request; operator requests carry the token.  Resolves to
	// {data, resp}; rejects with an ApiError saying what to do next.
	async function api(method, path, opts) {
		const o = opts || {};
		const headers = { "Accept": "application/json" };
		if (o.auth) {
			if (!S.token)
				throw new ApiError(401, "unauthorized",
				    "Sign in with the operator token first.");
			headers["Authorization"] = "Bearer " + S.token;
		}
		let body;
		if (o.body !== undefined) {
			headers["Content-Type"] = "application/json";
			body = JSON.stringify(o.body);
		}
		let resp;
		try {
			resp = await fetch(path, { method, headers, body,
			    cache: "no-store", credentials: "omit" });
		} catch (e) {
			throw new ApiError(0, "unreachable",
			    "The main node does not answer; retrying.");
		}
		let data = null;
		try {
			data = await resp.json();
		} catch (e) {
			data = null;
		}
		if (!resp.ok) {
			const err = data && data.error ? data.error : {};
			let msg = err.message || ("HTTP " + resp.status);
			if (resp.status === 401) {
				msg = "The main node refused the operator "
				    + "token: enter it again.";
				forgetToken();
			} else if (resp.status === 403)
				msg = "Not allowed from here: " + msg;
			else if (resp.status === 429 || resp.status === 503)
				msg = "The main node is busy (" + msg
				    + "); try again in a moment.";
			throw new ApiError(resp.status, err.code || "", msg);
		}
		return { data, resp };
	}

	function setReachable(ok) {
		if (S.reachable === ok)
			return;
		S.reachable = ok;
		showLive();
	}

	// ---- the token ----

	function loadToken() {
		try {
			S.token = sessionStorage.getItem(TOKEN_KEY) || "";
		} catch (e) {
			S.token = "";
		}
	}

	function setToken(t) {
		S.token = t;
		try {
			if (t)
				sessionStorage.setItem(TOKEN_KEY, t);
			else
				sessionStorage.removeItem(TOKEN_KEY);
		} catch (e) {
			// No storage (a private window): kept in memory only.
		}
		showAuth();
		startStream();
		renderDevices();
		renderDetail();
		if (S.selected)
			openTask(S.selected, false);
	}

	function forgetToken() {
		if (S.token)
			setToken("");
	}

	function showAuth() {
		$("auth").hidden = !!S.token;
		$("signed").hidden = !S.token;
	}

	// ---- live status line ----

	function showLive() {
		const p = $("live");
		let cls, text;
		if (!S.reachable) {
			cls = "live-down";
			text = "main node unreachable, retrying";
		} else if (S.streamLive) {
			cls = "live-on";
			text = "live";
		} else if (S.token) {
			cls = "live-wait";
			text = "connecting to events…";
		} else {
			cls = "live-poll";
			text = "updating every " + POLL_FAST / 1000 + " s";
		}
		p.className = "live " + cls;
		$("live-text").textContent = text;
	}

	function renderSummary() {
		const s = S.status;
		if (!s) {
			$("summary").textContent = "";
			return;
		}
		const parts = [
		    (s.devices_online ?? 0) + "/" + (s.devices_total ?? 0)
			+ " devices online",
		    (s.tasks_queued ?? 0) + " queued",
		    (s.tasks_running ?? 0) + " running",
		];
		if (s.devices_pending)
			parts.push(s.devices_pending + " awaiting approval");
		if (s.tasks_failed)
			parts.push(s.tasks_failed + " failed");
		$("summary").textContent = parts.join(" · ");
	}

	// ---- devices ----

	function bar(label, value) {
		const row = el("div", "metric");
		row.appendChild(el("span", "k", label));
		const b = el("div", "bar");
		b.setAttribute("aria-hidden", "true");
		const fill = el("span");
		const n = num(value);
		fill.style.width = (n === null ? 0 :
		    Math.max(0, Math.min(100, n))) + "%";
		if (n !== null && n >= 90)
			b.classList.add("high");
		b.appendChild(fill);
		row.appendChild(b);
		row.appendChild(el("span", "v", pct(value)));
		return row;
	}

	function deviceButton(d, act, text, cls) {
		const b = el("button", cls || "", text);
		b.type = "button";
		b.dataset.device = d.id;
		b.dataset.act = act;
		b.setAttribute("aria-label", text + " " + d.id);
		return b;
	}

	function tile(d) {
		const li = el("li", "tile " + stateClass(d.state));
		li.dataset.id = d.id;
		const head = el("div", "tile-head");
		head.appendChild(el("h3", "mono", d.id));
		head.appendChild(el("span", "badge " + stateClass(d.state),
		    stateText(d.state)));
		li.appendChild(head);
		const sub = [d.hostname, d.arch, d.platform].filter(
		    (x) => x).join(" · ");
		if (sub)
			li.appendChild(el("p", "sub", sub));
		li.appendChild(bar("CPU", d.cpu_pct));
		li.appendChild(bar("Mem", d.mem_pct));
		const facts = el("p", "facts");
		facts.appendChild(el("span", "", "Tasks " + (d.running ?? 0)
		    + "/" + (d.slots ?? "–")));
		const t = num(d.temp_c);
		if (t !== null)
			facts.appendChild(el("span", "", t.toFixed(1) + " °C"));
		const bat = num(d.battery_pct);
		if (bat !== null)
			facts.appendChild(el("span", "", "Battery " + bat + "%"
			    + (d.charging ? " charging" : "")));
		const cores = num(d.cores);
		if (cores !== null)
			facts.appendChild(el("span", "", cores + " cores"));
		li.appendChild(facts);
		if (d.reason)
			li.appendChild(el("p", "reason", d.reason));
		if (S.token) {
			const a = el("div", "actions");
			if (d.state === "pending") {
				a.appendChild(deviceButton(d, "approve",
				    "Approve"));
				a.appendChild(deviceButton(d, "reject",
				    "Reject", "danger"));
			} else if (d.state === "draining")
				a.appendChild(deviceButton(d, "undrain",
				    "Undrain"));
			else
				a.appendChild(deviceButton(d, "drain",
				    "Drain"));
			li.appendChild(a);
		}
		return li;
	}

	// Redraw the grid, keeping the focused button focused.
	function renderDevices() {
		const grid = $("grid");
		const f = document.activeElement;
		const focus = f && f.dataset && f.dataset.device ?
		    [f.dataset.device, f.dataset.act] : null;
		const ids = Array.from(S.devices.keys()).sort();
		const frag = document.createDocumentFragment();
		for (const id of ids)
			frag.appendChild(tile(S.devices.get(id)));
		grid.replaceChildren(frag);
		$("no-devices").hidden = ids.length > 0;
		let online = 0;
		for (const d of S.devices.values())
			if (d.state !== "offline" && d.state !== "pending")
				online++;
		$("dev-count").textContent = ids.length ? "(" + online + "/"
		    + ids.length + " online)" : "";
		if (focus) {
			for (const b of grid.querySelectorAll("button")) {
				if (b.dataset.device === focus[0]) {
					b.focus();
					break;
				}
			}
		}
	}

	async function refreshDevices() {
		const { data } = await api("GET", "/api/v1/devices");
		if (!Array.isArray(data))
			return;
		S.devices.clear();
		for (const d of data)
			if (d && d.id !== undefined)
				S.devices.set(String(d.id), d);
		renderDevices();
	}

	async function deviceAction(id, act, button) {
		button.disabled = true;
		try {
			const { data } = await api("POST", "/api/v1/devices/"
			    + encodeId(id) + "/" + act, { auth: true });
			if (data && data.device)
				S.devices.set(String(data.device.id),
				    Object.assign({}, S.devices.get(
				    String(data.device.id)), data.device));
			if (data && data.removed !== undefined)
				S.devices.delete(String(data.removed));
			say("Device " + id + ": " + act + " done.");
			renderDevices();
		} catch (e) {
			say("Device " + id + ": " + act + " failed: "
			    + e.message, true);
			button.disabled = false;
		}
	}

	// ---- tasks ----

	function filterState() {
		return $("f-state").value;
	}

	// Does a task belong in the list the state filter asks for?
	function inList(t) {
		const f = filterState();
		if (f === "")
			return !FINAL.has(t.state);
		if (f === "all")
			return true;
		return t.state === f;
	}

	function matchesText(t) {
		const q = $("f-text").value.trim().toLowerCase();
		if (!q)
			return true;
		return [t.id, t.name, t.device, t.state].some(
		    (v) => v !== null && v !== undefined &&
		    String(v).toLowerCase().includes(q));
	}

	// Task ids in numeric order ("17" < "17.3" < "18").
	function idCompare(a, b) {
		const pa = String(a).split(".").map(Number);
		const pb = String(b).split(".").map(Number);
		for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
			const x = pa[i] ?? -1, y = pb[i] ?? -1;
			if (x !== y)
				return x - y;
		}
		return 0;
	}

	function taskRow(t) {
		const tr = el("tr");
		tr.dataset.id = t.id;
		if (String(t.id) === S.selected)
			tr.className = "selected";
		const idc = el("td", "mono");
		const a = el("a", "", t.id);
		a.href = "#task/" + t.id;
		a.setAttribute("aria-label", "Task " + t.id + " details");
		idc.appendChild(a);
		tr.appendChild(idc);
		const st = el("td");
		st.appendChild(el("span", "badge " + stateClass(t.state),
		    stateText(t.state)));
		tr.appendChild(st);
		tr.appendChild(el("td", "", t.name || ""));
		tr.appendChild(el("td", "mono", t.device || "–"));
		tr.appendChild(el("td", "col-opt", t.priority || ""));
		tr.appendChild(el("td", "col-opt mono",
		    t.exit_code === null || t.exit_code === undefined ?
		    "" : t.exit_code));
		return tr;
	}

	function renderTasks() {
		const rows = Array.from(S.tasks.values()).filter(matchesText);
		rows.sort((a, b) => idCompare(b.id, a.id));
		const f = document.activeElement;
		const focusId = f && f.closest && f.closest("#task-rows") ?
		    f.closest("tr").dataset.id : null;
		const frag = document.createDocumentFragment();
		for (const t of rows)
			frag.appendChild(taskRow(t));
		$("task-rows").replaceChildren(frag);
		$("task-count").textContent = "(" + rows.length
		    + (rows.length !== S.tasks.size ? " of " + S.tasks.size :
		    "") + ")";
		let note = "";
		if (!rows.length)
			note = S.tasks.size ? "No task matches the filter." :
			    "No task here.";
		if (S.tasksMore)
			note += (note ? " " : "") + "Showing the newest "
			    + TASKS_LIMIT + "; narrow the state filter to see "
			    + "others.";
		$("tasks-note").textContent = note;
		if (focusId) {
			const a = document.querySelector("#task-rows tr[data-id=\""
			    + CSS.escape(focusId) + "\"] a");
			if (a)
				a.focus();
		}
	}

	function tasksPath() {
		const f = filterState();
		const q = new URLSearchParams();
		if (f === "all")
			q.set("all", "1");
		else if (f !== "") {
			q.set("all", "1");
			q.set("state", f);
		}
		q.set("limit", String(TASKS_LIMIT));
		return "/api/v1/tasks?" + q.toString();
	}

	async function refreshTasks() {
		const path = tasksPath();
		const { data, resp } = await api("GET", path);
		if (path !== tasksPath() || !Array.isArray(data))
			return;		// the filter changed meanwhile
		S.tasks.clear();
		for (const t of data)
			if (t && t.id !== undefined)
				S.tasks.set(String(t.id), t);
		S.tasksMore = /rel="?next"?/.test(resp.headers.get("Link")
		    || "");
		renderTasks();
	}

	async function refreshStatus() {
		const { data } = await api("GET", "/api/v1/status");
		S.status = data;
		renderSummary();
	}

	// One round of listings.
	async function refreshAll() {
		try {
			await Promise.all([refreshStatus(), refreshDevices(),
			    refreshTasks()]);
			setReachable(true);
		} catch (e) {
			if (e.status === 0)
				setReachable(false);
			else
				say(e.message, true);
		}
	}

	function schedulePoll() {
		clearTimeout(S.pollTimer);
		S.pollTimer = setTimeout(async () => {
			await refreshAll();
			schedulePoll();
		}, S.streamLive ? POLL_SLOW : POLL_FAST);
	}

	// ---- a task's detail and output ----

	function field(dl, k, v) {
		if (v === null || v === undefined || v === "")
			return;
		dl.appendChild(el("dt", "", k));
		dl.appendChild(el("dd", "", Array.isArray(v) ?
		    v.join(" ") : v));
	}

	function taskButton(act, text, cls) {
		const b = el("button", cls || "", text);
		b.type = "button";
		b.dataset.task = S.selected;
		b.dataset.act = act;
		return b;
	}

	function renderDetail() {
		const sec = $("detail");
		if (!S.selected) {
			sec.hidden = true;
			return;
		}
		sec.hidden = false;
		const t = S.detail || S.tasks.get(S.selected) || { id: S.selected };
		$("d-id").textContent = t.id;
		const st = $("d-state");
		st.replaceChildren(el("span", "badge " + stateClass(t.state),
		    stateText(t.state)));
		if (t.error)
			st.appendChild(document.createTextNode(" " + t.error));
		const dl = $("d-fields");
		dl.replaceChildren();
		field(dl, "Name", t.name);
		field(dl, "Command", t.command);
		field(dl, "Image", t.image);
		field(dl, "Priority", t.priority);
		field(dl, "Device", t.device);
		field(dl, "Attempt", t.attempt);
		field(dl, "Exit code", t.exit_code);
		field(dl, "Submitted", t.submitted_at && when(t.submitted_at));
		field(dl, "Started", t.started_at && when(t.started_at));
		field(dl, "Finished", t.finished_at && when(t.finished_at));
		field(dl, "Why", t.why || t.reason);
		if (Array.isArray(t.dependencies) && t.dependencies.length)
			field(dl, "After", t.dependencies.map((d) =>
			    d.task_id + (d.kind && d.kind !== "after" ?
			    " (" + d.kind + ")" : "")).join(", "));
		if (Array.isArray(t.attempts) && t.attempts.length > 1)
			field(dl, "Attempts", t.attempts.map((a) =>
			    a.attempt + ": " + (a.device || "–") + " "
			    + stateText(a.state)).join("; "));
		const acts = $("d-actions");
		acts.replaceChildren();
		$("d-locked").hidden = !!S.token;
		if (S.token && t.state) {
			if (!FINAL.has(t.state))
				acts.appendChild(taskButton("cancel",
				    "Cancel task", "danger"));
			if (t.state === "queued" || t.state === "waiting")
				acts.appendChild(taskButton("hold", "Hold"));
			if (t.state === "held")
				acts.appendChild(taskButton("release",
				    "Release"));
		}
		for (const tr of $("task-rows").children)
			tr.classList.toggle("selected",
			    tr.dataset.id === S.selected);
	}

	function renderOutput(d) {
		const pre = $("d-output");
		const atEnd = pre.scrollHeight - pre.scrollTop -
		    pre.clientHeight < 24;
		const frag = document.createDocumentFragment();
		let chunks = Array.isArray(d.chunks) ? d.chunks :
		    [{ stream: "stdout", data: d.output || "" }];
		let total = 0, cut = false;
		for (let i = chunks.length - 1; i >= 0; i--) {
			total += String(chunks[i].data || "").length;
			if (total > OUTPUT_SHOWN_MAX) {
				chunks = chunks.slice(i + 1);
				cut = true;
				break;
			}
		}
		if (cut)
			frag.appendChild(el("span", "gap",
			    "[earlier output not shown here: encore logs "
			    + S.selected + "]\n"));
		for (const c of chunks) {
			const cls = c.stream === "stderr" ? "stderr" :
			    (c.stream === "stdout" ? "" : "gap");
			frag.appendChild(el("span", cls, c.data || ""));
		}
		if (!chunks.length || (chunks.length === 1 && !chunks[0].data))
			frag.appendChild(el("span", "gap", "(no output yet)"));
		pre.replaceChildren(frag);
		if (atEnd)
			pre.scrollTop = pre.scrollHeight;
	}

	// Show task id; follow its output while it is not over.
	async function openTask(id, focus) {
		S.selected = id;
		S.detail = null;
		const gen = ++S.logsGen;
		$("d-output").replaceChildren();
		$("d-follow").textContent = "";
		renderDetail();
		if (focus)
			$("detail-h").focus();
		if (!S.token)
			return;
		try {
			const { data } = await api("GET", "/api/v1/tasks/"
			    + encodeId(id), { auth: true });
			if (gen !== S.logsGen)
				return;
			S.detail = data && data.task ? data.task : data;
			renderDetail();
		} catch (e) {
			if (gen === S.logsGen)
				say("Task " + id + ": " + e.message, true);
			if (e.status === 404 && gen === S.logsGen)
				$("d-state").textContent = "No such task.";
			return;
		}
		followLogs(id, gen);
	}

	async function followLogs(id, gen) {
		let last = null;
		for (;;) {
			if (gen !== S.logsGen || !S.token)
				return;
			let d;
			try {
				({ data: d } = await api("GET", "/api/v1/tasks/"
				    + encodeId(id) + "/logs", { auth: true }));
			} catch (e) {
				if (gen !== S.logsGen)
					return;
				if (e.status !== 0 && e.status !== 429 &&
				    e.status !== 503) {
					say("Output of task " + id + ": "
					    + e.message, true);
					return;
				}
				await sleep(LOGS_EVERY * 3);
				continue;
			}
			if (gen !== S.logsGen)
				return;
			const key = JSON.stringify(d.chunks || d.output);
			if (key !== last) {
				renderOutput(d);
				last = key;
			}
			const state = d.state || (S.detail && S.detail.state);
			if (FINAL.has(state)) {
				$("d-follow").textContent = "(ended)";
				if (S.detail && S.detail.state !== state) {
					S.detail.state = state;
					renderDetail();
				}
				return;
			}
			$("d-follow").textContent = "(following)";
			await sleep(LOGS_EVERY);
		}
	}

	function closeTask() {
		S.selected = null;
		S.detail = null;
		S.logsGen++;
		renderDetail();
	}

	async function taskAction(id, act, button) {
		if (act === "cancel" && !button.classList.contains("confirm")) {
			button.classList.add("confirm");
			button.textContent = "Really cancel?";
			clearTimeout(S.confirmTimer);
			S.confirmTimer = setTimeout(() => {
				button.classList.remove("confirm");
				button.textContent = "Cancel task";
			}, 5000);
			return;
		}
		clearTimeout(S.confirmTimer);
		button.disabled = true;
		try {
			const { data } = await api("POST", "/api/v1/tasks/"
			    + encodeId(id) + "/" + act, { auth: true });
			if (data && data.task)
				taskChanged(data.task);
			const verb = { cancel: "cancelled", hold: "held",
			    release: "released" }[act] || act;
			say("Task " + id + " " + verb + ".");
		} catch (e) {
			say("Task " + id + ": " + act + " failed: " + e.message,
			    true);
			button.disabled = false;
		}
	}

	// A task changed (an event or an action's reply).
	function taskChanged(t) {
		const id = String(t.id);
		// A final state is for good: a reply sent before it (cancel's
		// "running") may arrive after its event.
		if (FINAL.has(t.state)) {
			if (S.ended.size > 10000)
				S.ended.clear();
			S.ended.add(id);
		} else if (S.ended.has(id))
			return;
		if (inList(t))
			S.tasks.set(id, Object.assign({}, S.tasks.get(id), t));
		else
			S.tasks.delete(id);
		renderTasks();
		if (id === S.selected) {
			const was = S.detail ? S.detail.state : null;
			S.detail = Object.assign({}, S.detail, t);
			renderDetail();
			// Ended or started again: read the output once more.
			if (S.token && was !== t.state)
				followLogs(id, ++S.logsGen);
		}
	}

	function deviceChanged(d) {
		if (d.removed !== undefined) {
			S.devices.delete(String(d.removed));
		} else if (d.id !== undefined) {
			const id = String(d.id);
			S.devices.set(id, Object.assign({}, S.devices.get(id),
			    d));
		}
		renderDevices();
	}

	// ---- events: Server-Sent Events read with fetch ----

	function onEvent(type, text) {
		let data;
		try {
			data = JSON.parse(text);
		} catch (e) {
			return;
		}
		if (!data || typeof data !== "object")
			return;
		if (type === "device")
			deviceChanged(data.device || data);
		else if (type === "task")
			taskChanged(data.task || data);
		else if (type === "status") {
			S.status = data;
			renderSummary();
		}
	}

	// Parse an event stream (the text/event-stream rules: "field: value"
	// lines, a blank line ends an event, ":" starts a comment).
	async function readStream(reader, gen) {
		const dec = new TextDecoder();
		let buf = "", type = "", data = [];
		for (;;) {
			const { value, done } = await reader.read();
			if (done || gen !== S.streamGen)
				return;
			S.streamLast = Date.now();
			buf += dec.decode(value, { stream: true });
			let i;
			while ((i = buf.search(/\r\n|\r|\n/)) >= 0) {
				if (buf[i] === "\r" && i === buf.length - 1)
					break;	// maybe \r\n split in two
				const line = buf.slice(0, i);
				buf = buf.slice(buf[i] === "\r" &&
				    buf[i + 1] === "\n" ? i + 2 : i + 1);
				if (line === "") {
					if (data.length)
						onEvent(type || "message",
						    data.join("\n"));
					type = "";
					data = [];
					continue;
				}
				if (line[0] === ":")
					continue;
				const c = line.indexOf(":");
				const name = c < 0 ? line : line.slice(0, c);
				let v = c < 0 ? "" : line.slice(c + 1);
				if (v[0] === " ")
					v = v.slice(1);
				if (name === "event")
					type = v;
				else if (name === "data")
					data.push(v);
			}
			if (buf.length > STREAM_BUF_MAX)
				throw new Error("event too long");
		}
	}

	function stopStream() {
		S.streamGen++;
		if (S.streamCtl)
			S.streamCtl.abort();
		S.streamCtl = null;
		S.streamLive = false;
	}

	function startStream() {
		stopStream();
		showLive();
		schedulePoll();
		if (S.token)
			streamLoop(S.streamGen);
	}

	async function streamLoop(gen) {
		let backoff = 1000;
		while (gen === S.streamGen && S.token) {
			const ctl = new AbortController();
			S.streamCtl = ctl;
			try {
				const resp = await fetch("/api/v1/events", {
				    headers: { "Accept": "text/event-stream",
					"Authorization": "Bearer " + S.token },
				    cache: "no-store", credentials: "omit",
				    signal: ctl.signal });
				if (resp.status === 401) {
					say("The main node refused the "
					    + "operator token: enter it again.",
					    true);
					forgetToken();
					return;
				}
				if (!resp.ok || !resp.body)
					throw new Error("HTTP " + resp.status);
				if (gen !== S.streamGen)
					return;
				S.streamLive = true;
				S.streamLast = Date.now();
				backoff = 1000;
				setReachable(true);
				showLive();
				schedulePoll();
				refreshAll();	// what changed while away
				await readStream(resp.body.getReader(), gen);
			} catch (e) {
				// Closed, aborted or unreachable: retry.
			}
			if (gen !== S.streamGen)
				return;
			S.streamLive = false;
			showLive();
			schedulePoll();
			await sleep(backoff + Math.random() * 500);
			backoff = Math.min(backoff * 2, 15000);
		}
	}

	// A stream that went silent (no ping for too long) is restarted.
	function watchdog() {
		if (S.streamLive && Date.now() - S.streamLast > STREAM_SILENT &&
		    S.streamCtl)
			S.streamCtl.abort();
	}

	// ---- wiring ----

	function route() {
		const m = /^#task\/([0-9][0-9.]*)$/.exec(location.hash);
		if (m) {
			if (m[1] !== S.selected)
				openTask(m[1], true);
		} else if (S.selected)
			closeTask();
	}

	function init() {
		loadToken();
		showAuth();
		$("auth").addEventListener("submit", (ev) => {
			ev.preventDefault();
			const input = $("token");
			// The whole operator.token text or the bare secret.
			const t = input.value.trim();
			input.value = "";
			if (!t) {
				say("Enter the operator token (the main node's "
				    + "operator.token).", true);
				return;
			}
			say("");
			setToken(t);
		});
		$("signout").addEventListener("click", () => {
			setToken("");
			say("Signed out; the token is forgotten.");
			$("token").focus();
		});
		$("filters").addEventListener("submit", (ev) =>
		    ev.preventDefault());
		$("f-state").addEventListener("change", () => {
			S.tasks.clear();
			renderTasks();
			refreshTasks().catch((e) => say(e.message, true));
		});
		$("f-text").addEventListener("input", renderTasks);
		$("grid").addEventListener("click", (ev) => {
			const b = ev.target.closest("button[data-act]");
			if (b)
				deviceAction(b.dataset.device, b.dataset.act, b);
		});
		$("d-actions").addEventListener("click", (ev) => {
			const b = ev.target.closest("button[data-act]");
			if (b)
				taskAction(b.dataset.task, b.dataset.act, b);
		});
		$("d-close").addEventListener("click", (ev) => {
			ev.preventDefault();
			const id = S.selected;
			history.pushState(null, "", location.pathname
			    + location.search);
			closeTask();
			const a = id && document.querySelector(
			    "#task-rows tr[data-id=\"" + CSS.escape(id)
			    + "\"] a");
			if (a)
				a.focus();
		});
		window.addEventListener("hashchange", route);
		setInterval(watchdog, 5000);
		refreshAll();
		startStream();
		route();
	}

	if (document.readyState === "loading")
		document.addEventListener("DOMContentLoaded", init);
	else
		init();
}());
