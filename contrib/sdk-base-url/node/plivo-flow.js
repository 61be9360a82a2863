// Points the official Plivo Node SDK at plivo-flow serve, for an application left unchanged.
//
//   PLIVO_FLOW_URL=http://127.0.0.1:8765 node -r ./contrib/sdk-base-url/node/plivo-flow.js app.js
//   (or NODE_OPTIONS="--require $PWD/contrib/sdk-base-url/node/plivo-flow.js")
//
// The SDK sends every API request through axios with absolute https://api.plivo.com URLs
// (checked with plivo 4.79.0). Loaded before the app, this finds the app's plivo package (from
// the script's directory, else the working directory), loads the axios that plivo uses and adds
// a request interceptor to it and to every instance made with axios.create, rewriting
// https://api.plivo.com to PLIVO_FLOW_URL; it says so on stderr. Without PLIVO_FLOW_URL, or
// without plivo installed, it does nothing.
'use strict';

const path = require('path');

function pointPlivoAtPlivoFlow(url) {
  const from = [process.argv[1] ? path.dirname(path.resolve(process.argv[1])) : null, process.cwd()].filter(Boolean);
  let axios;
  try {
    const plivo = require.resolve('plivo', { paths: from });
    axios = require(require.resolve('axios', { paths: [path.dirname(plivo)] }));
  } catch (e) {
    return;
  }
  const local = url.replace(/\/+$/, '');
  const rewrite = (config) => {
    if (typeof config.url === 'string') config.url = config.url.replace(/^https:\/\/api\.plivo\.com/, local);
    if (typeof config.baseURL === 'string') config.baseURL = config.baseURL.replace(/^https:\/\/api\.plivo\.com/, local);
    return config;
  };
  const create = axios.create.bind(axios);
  axios.create = (config) => {
    const instance = create(config);
    instance.interceptors.request.use(rewrite);
    return instance;
  };
  axios.interceptors.request.use(rewrite);
  process.stderr.write(`plivo-flow: the Plivo SDK sends its API requests to ${local}\n`);
}

if (process.env.PLIVO_FLOW_URL) pointPlivoAtPlivoFlow(process.env.PLIVO_FLOW_URL);
