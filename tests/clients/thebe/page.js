// Points Thebe at the cellhub named in the page's address (?hub=URL&token=TOKEN): the same
// serverSettings and kernelOptions a page gives Thebe for a Jupyter Server.
'use strict';
const query = new URLSearchParams(window.location.search);
const hub = query.get('hub');
window.thebe.bootstrap({
  requestKernel: true,
  useBinder: false,
  useJupyterLite: false,
  mountActivateWidget: false,
  serverSettings: {
    baseUrl: hub,
    wsUrl: hub.replace(/^http/, 'ws'),
    token: query.get('token'),
    appendToken: true,
  },
  kernelOptions: { kernelName: 'python3', path: '/' },
});
