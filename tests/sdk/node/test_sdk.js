#!/usr/bin/env node
// plivo-flow serve against the official Plivo Node SDK (npm `plivo`, pinned in package.json).
//
// Starts a webhook app (node:http on 127.0.0.1) that serves the call's XML and checks every
// webhook's V3 signature with plivo.validateV3Signature, starts `plivo-flow serve` (binary
// from $PLIVO_FLOW_BIN, default target/release/plivo-flow under the repository root) on a port
// it picks itself, and drives make-call, get, mute, unmute, kick and hangup through
// plivo.Client. The SDK hard-codes https://api.plivo.com for voice requests, so the axios
// module instance that plivo loads is patched to rewrite the URLs (the SDK's
// dist/rest/axios.js builds every voice URL from that constant).
//
// Prints `ok`/`FAIL` per check and `N passed, M failed` last; exits 1 on any failure.
'use strict';

const http = require('node:http');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawn } = require('node:child_process');
const querystring = require('node:querystring');

const AUTH_ID = 'MAXXXXXXXXXXXXXXXXXX';
const AUTH_TOKEN = 'test-token';
const REPO = path.resolve(__dirname, '..', '..', '..');
const WAIT_MS = 10000;
const POLL_MS = 50;

// --------------------------------------------------------------------------- checks

let passed = 0;
let failed = 0;
const failures = [];

function check(name, cond, detail) {
  if (cond) {
    passed += 1;
    console.log(`ok    ${name}`);
  } else {
    failed += 1;
    failures.push(name);
    console.log(`FAIL  ${name}${detail ? `\n      ${detail}` : ''}`);
  }
  return Boolean(cond);
}

// plivo 4.79.0's error classes are Babel-compiled subclasses of Error, so what it rejects with is
// a plain Error (`instanceof ResourceNotFoundError` is false); the class is only visible
// through the fields PlivoRestError sets: `status` (the HTTP status), `message` (the body's
// `error`) and `apiID`. So the checks look at those.
async function rejectsWith(name, status, fn) {
  try {
    const got = await fn();
    check(name, false, `expected HTTP ${status}, got a result: ${JSON.stringify(got)}`);
    return null;
  } catch (e) {
    check(name, e && e.status === status && typeof e.message === 'string' && e.message.length > 0
      && typeof e.apiID === 'string' && e.apiID.length > 0,
    `expected an error with status ${status}, message and apiID; got ${e && e.status} ${e && e.message} ${e && e.apiID}`);
    return e;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v;
    try {
      v = await pred();
    } catch (_) {
      v = null;
    }
    if (v || Date.now() >= deadline) return v;
    await sleep(POLL_MS);
  }
}

// --------------------------------------------------------------------------- the webhook app

function startWebhookApp(plivo) {
  const app = { docs: new Map(), requests: [], base: null, server: null };
  app.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url, `http://${req.headers.host}`);
      const url = `http://${req.headers.host}${req.url}`;
      const multi = req.method === 'GET' ? querystring.parse(u.search.slice(1)) : querystring.parse(body);
      const sig = req.headers['x-plivo-signature-v3'];
      const nonce = req.headers['x-plivo-signature-v3-nonce'];
      let sigOk = false;
      let sigError = '';
      if (sig && nonce) {
        try {
          // For GET the Node SDK takes the parameters from the URL's query itself (and would
          // count them twice if they were passed again), so params are {} there.
          sigOk = plivo.validateV3Signature(req.method, url, nonce, AUTH_TOKEN, sig,
            req.method === 'GET' ? {} : multi);
        } catch (e) {
          sigError = String(e);
        }
      }
      const params = {};
      for (const [k, v] of Object.entries(multi)) params[k] = Array.isArray(v) ? v[0] : v;
      app.requests.push({
        method: req.method,
        path: u.pathname,
        url,
        params,
        sigPresent: Boolean(sig && nonce),
        sigMaPresent: Boolean(req.headers['x-plivo-signature-ma-v3']),
        sigOk,
        sigError,
      });
      const doc = app.docs.get(u.pathname);
      const out = Buffer.from(doc || '', 'utf8');
      res.writeHead(200, {
        'Content-Type': doc ? 'application/xml' : 'text/plain',
        'Content-Length': out.length,
      });
      res.end(out);
    });
  });
  return new Promise((resolve) => {
    app.server.listen(0, '127.0.0.1', () => {
      app.base = `http://127.0.0.1:${app.server.address().port}`;
      resolve(app);
    });
  });
}

function find(app, prefix, params) {
  return app.requests.filter((r) => r.path.startsWith(prefix)
    && Object.entries(params).every(([k, v]) => r.params[k] === v));
}

// The length in ms of an 8 kHz 16-bit mono PCM WAV file (canonical 44-byte header); null when
// the bytes are not one.
function wavMs(buf) {
  if (buf.length < 44 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE'
    || buf.toString('latin1', 36, 40) !== 'data') return null;
  const format = buf.readUInt16LE(20);
  const channels = buf.readUInt16LE(22);
  const rate = buf.readUInt32LE(24);
  const bits = buf.readUInt16LE(34);
  const dataLen = buf.readUInt32LE(40);
  if (format !== 1 || channels !== 1 || rate !== 8000 || bits !== 16 || buf.length !== 44 + dataLen) return null;
  return dataLen / 2 / 8;
}

// GET url without credentials: { status, type, body (Buffer) }.
async function download(url) {
  const resp = await fetch(url);
  return { status: resp.status, type: resp.headers.get('content-type'), body: Buffer.from(await resp.arrayBuffer()) };
}

// --------------------------------------------------------------------------- the server

function startServer(binary) {
  const logPath = path.join(os.tmpdir(), `plivo-flow-serve-node-${process.pid}.log`);
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--speed', '0',
    '--auth-id', AUTH_ID, '--auth-token', AUTH_TOKEN],
  { stdio: ['ignore', 'pipe', log], env: { ...process.env, NO_COLOR: '1' } });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no banner from plivo-flow serve (log: ${logPath})`)), 30000);
    proc.stdout.on('data', (d) => {
      buf += d.toString();
      const m = buf.match(/http:\/\/(127\.0\.0\.1:\d+)\/v1\/Account\//);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: `http://${m[1]}`, logPath });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`plivo-flow serve exited (${code}) before its banner (log: ${logPath})`));
    });
  });
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (!server || server.proc.exitCode !== null) return resolve();
    const killer = setTimeout(() => server.proc.kill('SIGKILL'), 5000);
    server.proc.on('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    server.proc.kill('SIGINT');
  });
}

async function raw(base, method, p, data) {
  const headers = { Authorization: `Basic ${Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString('base64')}` };
  let body;
  if (data !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(data);
  }
  const res = await fetch(base + p, { method, headers, body });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch (_) {
    return { status: res.status, body: text };
  }
}

// --------------------------------------------------------------------------- main

function patchAxios(localBase) {
  // plivo's own axios (it may be nested under plivo/node_modules).
  const axios = require(require.resolve('axios', { paths: [path.dirname(require.resolve('plivo'))] }));
  const rewrite = (c) => {
    if (c.url) c.url = c.url.replace('https://api.plivo.com', localBase);
    return c;
  };
  const origCreate = axios.create.bind(axios);
  axios.create = (cfg) => {
    const inst = origCreate(cfg);
    inst.interceptors.request.use(rewrite);
    return inst;
  };
  axios.interceptors.request.use(rewrite);
}

async function main() {
  const started = Date.now();
  let binary = process.env.PLIVO_FLOW_BIN || 'target/release/plivo-flow';
  if (!path.isAbsolute(binary)) binary = path.join(REPO, binary);
  if (!fs.existsSync(binary)) {
    console.error(`no server binary at ${binary} (build it: cargo build --release)`);
    console.log('0 passed, 1 failed');
    return 1;
  }

  let server = null;
  let app = null;
  // `timeout` (run.sh) sends SIGTERM: stop the server before leaving.
  process.on('SIGTERM', () => {
    if (server && server.proc.exitCode === null) server.proc.kill('SIGKILL');
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(143);
  });
  try {
    server = await startServer(binary);
    patchAxios(server.base);
    const plivo = require('plivo');
    app = await startWebhookApp(plivo);
    console.log(`server at ${server.base}, webhook app at ${app.base}`);
    const client = new plivo.Client(AUTH_ID, AUTH_TOKEN);
    const room = 'My Room';
    let n = 0;
    const answer = () => {
      n += 1;
      const p = `/answer/${n}`;
      app.docs.set(p, `<Response><Conference callbackUrl="${app.base}/conf-cb/${n}" callbackMethod="POST">`
        + `${room}</Conference><Speak>Next element</Speak></Response>`);
      return app.base + p;
    };
    const hangupUrl = `${app.base}/hangup/`;
    const members = async () => {
      try {
        const c = await client.conferences.get(room);
        return Object.fromEntries((c.members || []).map((m) => [m.callUuid, m]));
      } catch (e) {
        if (e && e.status === 404) return {};
        throw e;
      }
    };
    const waitMembers = async (uuids) => (await waitFor(async () => {
      const ms = await members();
      return uuids.every((u) => u in ms) ? ms : null;
    })) || {};

    // make-call
    console.log('--- make-call');
    const made = await client.calls.create('14155550100', '14155550200', answer(),
      { answerMethod: 'POST', hangupUrl });
    const request = made.requestUuid;
    check('make-call: requestUuid is a string', typeof request === 'string' && request.length > 0, JSON.stringify(made));
    check('make-call: message and apiId', made.message === 'call fired' && Boolean(made.apiId), JSON.stringify(made));
    // The call's webhooks carry its own CallUUID and the request id as ALegRequestUUID.
    const ans = await waitFor(() => find(app, '/answer/', { ALegRequestUUID: request }).length > 0);
    check('make-call: answer_url fetched for the call', ans);
    const a = ans ? find(app, '/answer/', { ALegRequestUUID: request })[0].params.CallUUID : undefined;
    check('make-call: CallUUID differs from requestUuid, RequestUUID equals it', a && a !== request
      && find(app, '/answer/', { CallUUID: a })[0].params.RequestUUID === request);

    // a second caller through the simulated phone
    const sim = await raw(server.base, 'POST', '/sim/Call/', {
      from: '14155550101', to: '14155550199', answer_url: answer(), hangup_url: hangupUrl,
    });
    check('sim call: 201 with call_uuid', sim.status === 201 && sim.body.call_uuid, JSON.stringify(sim));
    const b = sim.body.call_uuid;

    // get
    console.log('--- get');
    let ms = await waitMembers([a, b]);
    check("get: both calls are members of 'My Room'", a in ms && b in ms, JSON.stringify(Object.keys(ms)));
    const conf = await client.conferences.get(room);
    check("get: conferenceName 'My Room', conferenceMemberCount '2'",
      conf.conferenceName === room && String(conf.conferenceMemberCount) === '2', JSON.stringify(conf));
    const keys = ['muted', 'deaf', 'from', 'to', 'callerName', 'direction', 'callUuid', 'joinTime', 'memberId'];
    check('get: members have the documented fields (camel-cased by the SDK)',
      conf.members.every((m) => keys.every((k) => k in m)), JSON.stringify(conf.members));
    check('get: member ids are strings', conf.members.every((m) => typeof m.memberId === 'string'),
      JSON.stringify(conf.members.map((m) => m.memberId)));
    check('get: the make-call member is outbound', ms[a] && ms[a].direction === 'outbound'
      && ms[a].from === '14155550100' && ms[a].to === '14155550200', JSON.stringify(ms[a]));
    const list = await client.conferences.list();
    check("list: 'My Room' is listed", Array.isArray(list.conferences) && list.conferences.includes(room),
      JSON.stringify(list));

    // mute
    console.log('--- mute');
    const idb = ms[b].memberId;
    const muted = await client.conferences.muteMember(room, idb);
    check("mute: message 'muted'", muted.message === 'muted', JSON.stringify(muted));
    ms = await members();
    check('mute: get shows the member muted, the other not', ms[b].muted === true && ms[a].muted === false,
      `${ms[b].muted} ${ms[a].muted}`);
    await client.conferences.unmuteMember(room, idb);
    ms = await members();
    check('unmute: get shows the member unmuted', ms[b].muted === false, JSON.stringify(ms[b]));

    // kick
    console.log('--- kick');
    const ida = ms[a].memberId;
    const kicked = await client.conferences.kickMember(room, ida);
    check("kick: message 'kicked', memberId echoed", kicked.message === 'kicked' && String(kicked.memberId) === ida,
      JSON.stringify(kicked));
    const exit = await waitFor(() => find(app, '/conf-cb/', { CallUUID: a, ConferenceAction: 'exit' })[0]);
    check('kick: conference exit callback arrived', Boolean(exit));
    const hup = await waitFor(() => find(app, '/hangup/', { CallUUID: a })[0]);
    check('kick: the call went on to the next element and ended it (HangupCauseCode=4010)',
      hup && hup.params.HangupCauseCode === '4010', JSON.stringify(hup && hup.params));
    const t = await raw(server.base, 'GET', '/sim/Transcript/');
    check('kick: transcript shows the next element spoken', String(t.body).includes(`${a}  spoke "Next element"`));
    ms = await members();
    check('kick: only the other caller is left', Object.keys(ms).join() === b, JSON.stringify(Object.keys(ms)));

    // member hangup
    console.log('--- hangup member');
    await client.conferences.hangupMember(room, idb);
    const hupB = await waitFor(() => find(app, '/hangup/', { CallUUID: b })[0]);
    check('hangupMember: the call ended (not by end of XML)',
      hupB && hupB.params.HangupCauseCode !== '4010', JSON.stringify(hupB && hupB.params));

    // the Call API on a live call: play, speak, DTMF, record; the Recording API
    console.log('--- call actions and recordings');
    const apiRoom = 'Node API Room';
    app.docs.set('/api-room', `<Response><Conference>${apiRoom}</Conference></Response>`);
    const simC = await raw(server.base, 'POST', '/sim/Call/', {
      from: '14155550801', to: '14155550199', answer_url: `${app.base}/api-room`,
    });
    const c = simC.body.call_uuid;
    const settle = () => raw(server.base, 'GET', '/sim/Settled/');
    await settle();
    const transcript = async () => String((await raw(server.base, 'GET', '/sim/Transcript/')).body);
    const played = await client.calls.playMusic(c, 'https://media.example/node.mp3', { loop: true });
    check("calls.playMusic: 'play started'", played.message === 'play started', JSON.stringify(played));
    await settle();
    check('calls.playMusic: the transcript shows the API play',
      (await transcript()).includes(`${c}  playing https://media.example/node.mp3 (API, looping)`));
    await client.calls.stopPlayingMusic(c);
    await rejectsWith('calls.stopPlayingMusic with nothing playing -> 404 error', 404,
      () => client.calls.stopPlayingMusic(c));
    const spoke = await client.calls.speakText(c, 'Hello from Node', { voice: 'MAN', loop: true });
    check("calls.speakText: 'speak started'", spoke.message === 'speak started', JSON.stringify(spoke));
    await client.calls.stopSpeakingText(c);
    await rejectsWith('calls.stopSpeakingText with nothing spoken -> 404 error', 404,
      () => client.calls.stopSpeakingText(c));
    const sent = await client.calls.sendDigits(c, '42#');
    check("calls.sendDigits: 'digits sent'", sent.message === 'digits sent', JSON.stringify(sent));
    await settle();
    check('calls.sendDigits: the transcript shows the tones', (await transcript()).includes(`${c}  sent tones 42#`));
    const rec = await client.calls.record(c, { fileFormat: 'mp3', callbackUrl: `${app.base}/node-rec-cb/` });
    check("calls.record: 'call recording started' with recordingId and url",
      rec.message === 'call recording started' && typeof rec.recordingId === 'string'
      && String(rec.url).endsWith(`${rec.recordingId}.mp3`), JSON.stringify(rec));
    await new Promise((r) => setTimeout(r, 300)); // about 300 ms of recording
    await client.calls.stopRecording(c);
    const recCb = await waitFor(() => find(app, '/node-rec-cb/', { RecordingID: rec.recordingId })[0]);
    check('calls.record: the callback_url got the recording', Boolean(recCb));
    // The recording as Plivo gives it: epoch ms, and a RecordUrl on the server that downloads.
    const rp = recCb ? recCb.params : {};
    const recStart = Number(rp.RecordingStartMs);
    const recMs = Number(rp.RecordingDurationMs);
    check('calls.record: RecordingStartMs is epoch ms of about now',
      recStart > Date.now() - 60000 && recStart <= Date.now() + 1000, JSON.stringify(rp));
    check('calls.record: RecordingEndMs - RecordingStartMs == RecordingDurationMs (about 300 ms)',
      Number(rp.RecordingEndMs) - recStart === recMs && recMs >= 300, JSON.stringify(rp));
    const recUrl = String(rp.RecordUrl);
    check("calls.record: RecordUrl is the server's own",
      recUrl === `${server.base}/v1/Account/${AUTH_ID}/Recording/${rec.recordingId}.mp3`, recUrl);
    const file = await download(recUrl);
    check('calls.record: RecordUrl downloads without credentials as audio/wav',
      file.status === 200 && file.type === 'audio/wav', `${file.status} ${file.type}`);
    check('calls.record: the file is a WAV of RecordingDurationMs', wavMs(file.body) === recMs,
      `${wavMs(file.body)} ms of ${file.body.length} bytes`);
    await rejectsWith('calls.stopRecording when not recording -> 404 error', 404, () => client.calls.stopRecording(c));
    const recs = await client.recordings.list({ callUuid: c });
    check('recordings.list({callUuid}): the one recording', recs.length === 1 && recs[0].recordingId === rec.recordingId
      && recs[0].recordingType === 'call', JSON.stringify(recs));
    const one = await client.recordings.get(rec.recordingId);
    check('recordings.get: the recording', one.recordingId === rec.recordingId && one.callUuid === c, JSON.stringify(one));
    check('recordings.get: recordingUrl is the RecordUrl, recordingStartMs the RecordingStartMs',
      one.recordingUrl === recUrl && Number(one.recordingStartMs) === recStart, JSON.stringify(one));
    const got = await download(String(one.recordingUrl));
    check('recordings.get: recordingUrl downloads the same WAV', got.status === 200 && got.body.equals(file.body),
      `${got.status}, ${got.body.length} bytes`);
    await client.recordings.delete(rec.recordingId);
    check("recordings.delete: the file is gone (404)", (await download(recUrl)).status === 404);
    await rejectsWith('recordings.get of a deleted recording -> 404 error', 404,
      () => client.recordings.get(rec.recordingId));
    const madeC = await client.calls.create('14155550100', '14155550802', `${app.base}/api-room`);
    await waitFor(() => find(app, '/api-room', { ALegRequestUUID: madeC.requestUuid }).length > 0);
    const eCancel = await rejectsWith('calls.cancel of an answered request -> 404 error', 404,
      () => client.calls.cancel(madeC.requestUuid));
    check('calls.cancel: the message says the call was answered', eCancel && eCancel.message.includes('answered'),
      eCancel && eCancel.message);
    const eNotImpl = await rejectsWith('an unimplemented endpoint -> 404 error', 404,
      () => client.numbers.list());
    check('the 404 names the endpoint as not implemented by plivo-flow',
      eNotImpl && eNotImpl.message.includes('is not implemented by plivo-flow'), eNotImpl && eNotImpl.message);

    // call records: filters and paging
    console.log('--- call list filters and paging');
    app.docs.set('/bye', '<Response><Speak>Bye</Speak></Response>');
    const byes = [];
    for (let i = 0; i < 3; i += 1) {
      const r = await raw(server.base, 'POST', '/sim/Call/', {
        from: `1415555088${i}`, to: '14155550199', answer_url: `${app.base}/bye`,
      });
      byes.push(r.body.call_uuid);
    }
    const ended = await waitFor(async () => {
      for (const u of byes) {
        if ((await raw(server.base, 'GET', `/v1/Account/${AUTH_ID}/Call/${u}/`)).body.call_status !== 'completed') {
          return false;
        }
      }
      return true;
    });
    check('call list: the three calls ended', ended);
    const p1 = await client.calls.list({ callDirection: 'inbound', fromNumber: '1415555088', limit: 2, offset: 0 });
    check('calls.list({callDirection, fromNumber, limit: 2}): two calls, totalCount 3, next offset=2',
      p1.length === 2 && p1.meta && p1.meta.totalCount === 3 && String(p1.meta.next).includes('offset=2')
      && p1.meta.previous === null, JSON.stringify({ n: p1.length, meta: p1.meta }));
    const p2 = await client.calls.list({ callDirection: 'inbound', fromNumber: '1415555088', limit: 2, offset: 2 });
    check('calls.list({offset: 2}): the last call, no next page',
      p2.length === 1 && p2.meta.next === null && byes.includes(p2[0].callUuid)
      && !p1.map((x) => x.callUuid).includes(p2[0].callUuid), JSON.stringify({ n: p2.length, meta: p2.meta }));
    await client.calls.hangup(c);

    // the far end (/sim/FarEnd/) and make-call options
    console.log('--- far end and make-call options');
    app.docs.set('/far-speak', '<Response><Speak>Hello</Speak></Response>');
    app.docs.set('/far-room', '<Response><Conference>Far Room</Conference></Response>');
    const speakUrl = `${app.base}/far-speak`;
    const farEnd = async (data) => {
      const r = await raw(server.base, 'POST', '/sim/FarEnd/', data);
      check(`/sim/FarEnd/ ${JSON.stringify(data)} -> 201`, r.status === 201, JSON.stringify(r));
    };
    const hangupOf = async (requestUuid) => {
      const ok = await waitFor(() => find(app, '/hangup/', { RequestUUID: requestUuid }).length > 0);
      return ok ? find(app, '/hangup/', { RequestUUID: requestUuid })[0].params : {};
    };
    await farEnd({ number: '14155550911', answer: 'busy' });
    let fr = await client.calls.create('14155550100', '14155550911', speakUrl, { hangupUrl });
    let fh = await hangupOf(fr.requestUuid);
    check('far end busy: hangup_url with 3010 and source Callee',
      fh.HangupCauseCode === '3010' && fh.HangupSource === 'Callee', JSON.stringify(fh));
    await farEnd({ number: '14155550912', answer_after: 10 });
    fr = await client.calls.create('14155550100', '14155550912', speakUrl, { hangupUrl, ringTimeout: 5 });
    fh = await hangupOf(fr.requestUuid);
    check('ringTimeout 5 with the far end answering after 10 s: 9020', fh.HangupCauseCode === '9020',
      JSON.stringify(fh));
    fr = await client.calls.create('14155550100', '14155550913', `${app.base}/far-room`, { hangupUrl, timeLimit: 1 });
    fh = await hangupOf(fr.requestUuid);
    check('timeLimit 1: the answered call is hung up with 9030', fh.HangupCauseCode === '9030', JSON.stringify(fh));
    fr = await client.calls.create('14155550100', '14155550911<14155550914', speakUrl, { hangupUrl });
    check('bulk to: requestUuid is a list of two', Array.isArray(fr.requestUuid) && fr.requestUuid.length === 2,
      JSON.stringify(fr));
    if (Array.isArray(fr.requestUuid)) {
      const codes = [];
      for (const q of fr.requestUuid) codes.push((await hangupOf(q)).HangupCauseCode);
      check('bulk to: the busy number ends with 3010, the other with 4010',
        JSON.stringify(codes.sort()) === '["3010","4010"]', JSON.stringify(codes));
    }
    fr = await client.calls.create('14155550100', '14155550915', speakUrl,
      { hangupUrl, sendDigits: '9w8', callerName: 'Desk' });
    await hangupOf(fr.requestUuid);
    const fa = find(app, '/far-speak', { RequestUUID: fr.requestUuid });
    check('callerName is sent as CallerName', fa.length > 0 && fa[0].params.CallerName === 'Desk', JSON.stringify(fa));
    const tr = await raw(server.base, 'GET', '/sim/Transcript/');
    check('sendDigits are sent once answered (transcript)', String(tr.body).includes('send digits 9w8'));
    await farEnd({ number: '14155550916', machine: true });
    fr = await client.calls.create('14155550100', '14155550916', `${app.base}/far-room`,
      { hangupUrl, machineDetection: 'hangup', machineDetectionTime: 2000 });
    fh = await hangupOf(fr.requestUuid);
    check('machineDetection hangup on a machine: 9050', fh.HangupCauseCode === '9050', JSON.stringify(fh));
    const eSip = await rejectsWith('calls.create with sipHeaders -> 400 error', 400,
      () => client.calls.create('14155550100', '14155550917', speakUrl, { sipHeaders: 'a=b' }));
    check('the 400 names sip_headers', eSip && eSip.message.includes('sip_headers'), eSip && eSip.message);
    app.docs.set('/far-dialed', '<Response><Hangup/></Response>');
    app.docs.set('/far-dial', `<Response><Dial action="${app.base}/far-dialed"><Number>14155550911</Number></Dial></Response>`);
    await raw(server.base, 'POST', '/sim/Call/', { from: '14155550102', to: '14155550199', answer_url: `${app.base}/far-dial` });
    const dialAct = await waitFor(() => find(app, '/far-dialed', {}).length > 0);
    check('<Dial> to a busy far end: action with DialStatus=busy',
      dialAct && find(app, '/far-dialed', {})[0].params.DialStatus === 'busy');
    const reset = await raw(server.base, 'DELETE', '/sim/FarEnd/');
    const after = await raw(server.base, 'GET', '/sim/FarEnd/');
    check('DELETE /sim/FarEnd/ resets the table', reset.status === 204 && Array.isArray(after.body.far_ends)
      && after.body.far_ends.length === 0, JSON.stringify(after));

    // errors
    console.log('--- errors');
    const e404 = await rejectsWith('get of an unknown room -> 404 error', 404,
      () => client.conferences.get('No Such Room'));
    check("404 error message is the server's `error` field", e404 && e404.message.includes('No Such Room'),
      e404 && e404.message);
    await rejectsWith('kick in an unknown room -> 404 error', 404,
      () => client.conferences.kickMember('No Such Room', '1'));
    await rejectsWith('wrong token -> 401 error', 401,
      () => new plivo.Client(AUTH_ID, 'wrong-token').conferences.list());
    await rejectsWith("kick of member 'abc' -> 400 error", 400,
      () => client.conferences.kickMember(room, 'abc'));

    // signatures
    console.log('--- webhook signatures');
    await sleep(200);
    const reqs = app.requests;
    check('webhooks: received some', reqs.length >= 6, `${reqs.length}`);
    check('webhooks: every request has X-Plivo-Signature-V3 + nonce + Ma-V3',
      reqs.every((r) => r.sigPresent && r.sigMaPresent));
    const bad = reqs.filter((r) => !r.sigOk).map((r) => `${r.method} ${r.url} ${r.sigError}`);
    check(`webhooks: all ${reqs.length} V3 signatures valid (plivo.validateV3Signature)`, bad.length === 0,
      bad.slice(0, 3).join('; '));
  } catch (e) {
    check('the test ran to the end', false, (e && e.stack) || String(e));
  } finally {
    await stopServer(server);
    if (app) app.server.close();
  }
  if (failed) {
    console.log(`--- failed: ${JSON.stringify(failures)}`);
    if (server) {
      try {
        console.log(fs.readFileSync(server.logPath, 'utf8').split('\n').slice(-30).join('\n'));
      } catch (_) { /* no log */ }
    }
  } else if (server) {
    try { fs.unlinkSync(server.logPath); } catch (_) { /* gone */ }
  }
  console.log(`(node SDK test took ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
