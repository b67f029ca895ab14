// Drives a cellhub with @jupyterlab/services, JupyterLab's own kernel and session client.
// Usage: node drive.js BASE_URL TOKEN. Its last line of output is RESULTS and one JSON object,
// {check name: {ok, detail}} (the library logs on stdout too), one entry per check, every check run even when an earlier one failed, so that the Python
// test (tests/clients/test_jupyterlab_services.py) can say which of them cellhub fails.
'use strict';
const { ContentsManager, KernelManager, ServerConnection, SessionManager } = require('@jupyterlab/services');
const WebSocket = require('ws');

const [baseUrl, token] = process.argv.slice(2);
const serverSettings = ServerConnection.makeSettings({
  baseUrl,
  wsUrl: baseUrl.replace(/^http/, 'ws'),
  token,
  appendToken: true,
  WebSocket,
});
const results = {};

async function check(name, body) {
  try {
    results[name] = { ok: true, detail: await body() };
  } catch (error) {
    results[name] = { ok: false, detail: String(error && error.stack ? error.stack : error) };
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// Runs code; resolves with the reply and the iopub messages of that request.
async function run(kernel, code) {
  const iopub = [];
  const future = kernel.requestExecute({ code, stop_on_error: true });
  future.onIOPub = (msg) => iopub.push(msg);
  const reply = await future.done;
  return { reply, iopub, of: (type) => iopub.filter((m) => m.header.msg_type === type) };
}

async function waitFor(predicate, what, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    expect(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function kernelChecks(kernel, statuses, iopubStates) {
  return [
    ['v1 subprotocol', async () => {
      await waitFor(() => kernel.connectionStatus === 'connected', 'connected');
      expect(kernel._selectedProtocol === 'v1.kernel.websocket.jupyter.org',
        `selected protocol: "${kernel._selectedProtocol}"`);
    }],
    ['kernel_info', async () => {
      const info = await kernel.info;
      expect(info.language_info.name === 'python', JSON.stringify(info.language_info));
    }],
    ['execute 1+1', async () => {
      const r = await run(kernel, '1+1');
      expect(r.reply.content.status === 'ok', JSON.stringify(r.reply.content));
      expect(r.of('execute_result')[0].content.data['text/plain'] === '2', 'no result 2');
    }],
    ['stream', async () => {
      const r = await run(kernel, "print('hello'); import sys; print('oops', file=sys.stderr)");
      const text = (name) => r.of('stream').filter((m) => m.content.name === name)
        .map((m) => m.content.text).join('');
      expect(text('stdout') === 'hello\n' && text('stderr') === 'oops\n', JSON.stringify(r.iopub));
    }],
    ['display', async () => {
      const r = await run(kernel, "from IPython.display import HTML, display; display(HTML('<b>b</b>'))");
      expect(r.of('display_data')[0].content.data['text/html'] === '<b>b</b>', 'no display');
    }],
    ['complete', async () => {
      const reply = await kernel.requestComplete({ code: 'import os; os.pa', cursor_pos: 16 });
      expect(reply.content.matches.includes('path'), JSON.stringify(reply.content));
      expect(reply.content.cursor_start === 14, `cursor_start ${reply.content.cursor_start}`);
    }],
    ['inspect', async () => {
      const reply = await kernel.requestInspect({ code: 'len', cursor_pos: 3, detail_level: 0 });
      expect(reply.content.found && reply.content.data['text/plain'], JSON.stringify(reply.content));
    }],
    ['interrupt', async () => {
      const running = run(kernel, 'import time; time.sleep(60)');
      await waitFor(() => kernel.status === 'busy', 'busy');
      await kernel.interrupt();
      const r = await running;
      expect(r.reply.content.status === 'error' && r.reply.content.ename === 'KeyboardInterrupt',
        JSON.stringify(r.reply.content));
    }],
    // kernel.restart() itself sets the status 'restarting'; an iopub 'restarting' from the
    // server is what JupyterLab takes for a kernel that died ('autorestarting', a dialog).
    ['restart', async () => {
      await run(kernel, 'kept = 1');
      statuses.length = 0;
      iopubStates.length = 0;
      await kernel.restart();
      const r = await run(kernel, "'kept' in dir()");
      expect(r.of('execute_result')[0].content.data['text/plain'] === 'False', 'state survived');
      const alarming = statuses.filter((s) => s === 'dead' || s === 'autorestarting');
      expect(alarming.length === 0, `statuses during restart: ${statuses}`);
      expect(!iopubStates.includes('restarting'), `iopub states during restart: ${iopubStates}`);
    }],
  ];
}

async function kernelManagerChecks() {
  const kernelManager = new KernelManager({ serverSettings });
  const kernel = await kernelManager.startNew({ name: 'python3' });
  const statuses = [];
  const iopubStates = [];
  kernel.statusChanged.connect((_, status) => statuses.push(status));
  kernel.iopubMessage.connect((_, msg) => {
    if (msg.header.msg_type === 'status') iopubStates.push(msg.content.execution_state);
  });
  for (const [name, body] of kernelChecks(kernel, statuses, iopubStates)) await check(name, body);
  await check('shutdown', async () => {
    const id = kernel.id;
    await kernel.shutdown();
    const response = await fetch(`${baseUrl}api/kernels`, { headers: { Authorization: `token ${token}` } });
    expect(!(await response.json()).some((k) => k.id === id), 'still listed');
  });
  kernelManager.dispose();
}

async function sessionManagerChecks() {
  const kernelManager = new KernelManager({ serverSettings });
  const sessionManager = new SessionManager({ kernelManager, serverSettings });
  await check('SessionManager.startNew', async () => {
    const session = await sessionManager.startNew({
      path: 'notes.ipynb', name: 'notes.ipynb', type: 'notebook', kernel: { name: 'python3' },
    });
    const r = await run(session.kernel, 'print(6 * 7)');
    expect(r.of('stream')[0].content.text === '42\n', JSON.stringify(r.iopub));
    await session.shutdown();
    const left = await fetch(`${baseUrl}api/sessions`, { headers: { Authorization: `token ${token}` } });
    expect(JSON.stringify(await left.json()) === '[]', 'session still listed');
  });
  sessionManager.dispose();
  kernelManager.dispose();
}

// The contents API as JupyterLab's file browser and notebook panel use it: a new notebook,
// a save, a read back, a checkpoint, a rename, a copy, the listing, a delete.
async function contentsChecks() {
  const contents = new ContentsManager({ serverSettings });
  await check('ContentsManager', async () => {
    const made = await contents.newUntitled({ type: 'notebook' });
    expect(made.type === 'notebook' && made.path.endsWith('.ipynb'), JSON.stringify(made));
    const notebook = {
      nbformat: 4, nbformat_minor: 5, metadata: {},
      cells: [{ id: 'c1', cell_type: 'markdown', metadata: {}, source: 'from JupyterLab' }],
    };
    await contents.save(made.path, { type: 'notebook', format: 'json', content: notebook });
    const checkpoint = await contents.createCheckpoint(made.path);
    const read = await contents.get(made.path, { content: true });
    expect(read.content.cells[0].source === 'from JupyterLab', JSON.stringify(read));
    expect((await contents.listCheckpoints(made.path))[0].id === checkpoint.id, 'no checkpoint');
    const renamed = await contents.rename(made.path, 'From JupyterLab.ipynb');
    const copy = await contents.copy(renamed.path, '');
    const listing = await contents.get('', { content: true });
    const names = listing.content.map((entry) => entry.name);
    expect(names.includes('From JupyterLab.ipynb') && names.includes(copy.name), names.join(', '));
    await contents.delete(copy.path);
    return names;
  });
  contents.dispose();
}

async function main() {
  await check('KernelManager.startNew', kernelManagerChecks);
  await sessionManagerChecks();
  await contentsChecks();
  process.stdout.write(`\nRESULTS ${JSON.stringify(results)}\n`);
  process.exit(0);
}

main();
