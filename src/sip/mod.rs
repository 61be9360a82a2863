//! Real calls: `plivo-flow serve --sip ADDR --answer-url URL` answers SIP INVITEs over UDP and
//! TCP (the same port) and runs each call's Plivo XML on real audio (feature `sip`).
//!
//! The shell around the sans-IO core: rsipstack does SIP (transactions, dialogs, RFC 3261);
//! each call gets an RTP socket and a [`Leg`] (G.711, RFC 4733). The REST server's driver
//! ([`crate::server::Driver::spawn_shell`]) owns a [`Runtime`]`<`[`AudioMedia`]`>` on the wall
//! clock with this module's [`Shell`] beside it: webhooks go out as `serve`'s do (signed,
//! queued per call, retried), the Plivo REST API (calls, conferences: kick, mute, deaf, …)
//! works on these calls, and the shell moves their 20 ms frames, SIP dialogs and rendering
//! work (espeak-ng for `<Speak>`, WAV and MP3 `<Play>` through [`audio_file`]).
//!
//! The call: From and To are the INVITE's user parts, `CallUUID` a fresh UUID; the answer
//! URL is fetched as Plivo does, the INVITE is answered (200 OK with the SDP answer) when the
//! document's first verb answers, and the call ends with BYE both ways. `<Dial>` rings its
//! parties with INVITEs of its own and bridges the one that answers (`src/sip/dial.rs`). `POST
//! Call/` places SIP calls (`src/sip/outbound.rs`). A call's recordings are written as WAV
//! files of what was recorded and served at their `RecordUrl`s (`src/sip/recording.rs`).

pub mod audio_file;
mod dial;
mod outbound;
pub mod recording;
mod speech;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::DialogId;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, Param, StatusCode, ToTypedHeader, Transport};
use rsipstack::transport::TransportLayer;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::{EndpointBuilder, platform::CancellationToken};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub use dial::{InviteOutcome, MAX_DIAL_PARTIES};
pub use speech::{MAX_TEXT_CHARS, MAX_WAV_BYTES, SPEECH_TIMEOUT, SpeechError, espeak_voice, speak};

use crate::engine::{CallId, CallSetup, HangupSource, Input, MediaId, Webhook};
use crate::media::rtp::{Leg, LegConfig, LegStats, SdpOffer, answer, write_answer};
use crate::media::{AudioMedia, AudioRequest, FarEnds, Work};
use crate::runtime::{OutboundPlan, Runtime};
use crate::server::recording_files::RecordingFiles;
use crate::server::{Driver, DriverConfig, ServerConfig, Shell, StartRefused, call_span};
use tracing::Instrument;

/// Most events waiting for the driver (RTP datagrams, SIP events, rendered audio); an RTP
/// datagram that finds the queue full is dropped, the others wait for room.
pub const MAX_EVENTS: usize = 16_384;

/// Most live SIP calls; an INVITE beyond is answered 486 Busy Here.
pub const MAX_CALLS: usize = 1_000;

/// Most `<Speak>`/`<Play>` renderings at once (espeak-ng processes, WAV fetches); the others
/// wait their turn, and a text synthesised meanwhile is taken from the cache.
pub const MAX_RENDERS: usize = 4;

/// Longest a `<Play>` URL's fetch may take.
pub const PLAY_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest RTP datagram read (a 20 ms G.711 packet is 172 bytes).
const MAX_DATAGRAM: usize = 2_048;

/// How `serve --sip` answers calls (the REST server beside it is configured by a
/// [`ServerConfig`]: listen address, credentials, webhook bounds, seed).
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// Where SIP listens (UDP, and TCP on the same port); its address is also the one
    /// advertised in SDP.
    pub listen: SocketAddr,
    /// The answer URL of every inbound call.
    pub answer_url: String,
    /// Where every call's end is told (Plivo's application `hangup_url`, POST).
    pub hangup_url: Option<String>,
    /// The synthesiser program (espeak-ng).
    pub espeak: PathBuf,
    /// The MP3 encoder of recordings whose `fileFormat` is mp3 (LAME's `lame`, Debian package
    /// `lame`); `None`: only their WAV file is written, and their `.mp3` URL answers 404.
    pub lame: Option<PathBuf>,
    /// Where `<Dial>`'s `<Number>`s are sent (`sip:{number}@{gateway}`); without one they
    /// fail (`DialStatus=failed`). `<User>` SIP URIs are rung directly.
    pub gateway: Option<SocketAddr>,
}

/// Why `serve --sip` could not start.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// The SIP stack could not bind or start.
    #[error("SIP: {0}")]
    Stack(String),
    /// The REST server could not bind its address.
    #[error("REST API: {0}")]
    Http(#[from] std::io::Error),
}

/// A running SIP shell and the REST server of its calls.
pub struct RunningSip {
    /// Where SIP listens.
    pub addr: SocketAddr,
    /// Where the REST API listens.
    pub http: SocketAddr,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    server: crate::server::Running,
    dialogs: Arc<DialogLayer>,
}

impl std::fmt::Debug for RunningSip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSip")
            .field("addr", &self.addr)
            .field("http", &self.http)
            .field("dialogs", &self.dialogs.len())
            .finish_non_exhaustive()
    }
}

impl RunningSip {
    /// Stops listening (SIP and HTTP) and ends the SIP tasks and the driver (live calls are
    /// dropped without BYE; their RTP readers end with them).
    pub async fn stop(self) {
        self.cancel.cancel();
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
        let _ = self.server.stop().await;
    }

    /// How many SIP dialogs the stack holds now: one per live call and per party being rung
    /// or bridged, 0 once every call ended (an ended dialog leaves at its `Terminated`).
    pub fn dialogs(&self) -> usize {
        self.dialogs.len()
    }
}

/// What the SIP shell hears of, on the driver task: SIP dialogs, RTP, rendered audio.
pub enum Event {
    /// A new INVITE, its offer answered and its RTP socket bound.
    Invite(Box<NewCall>),
    /// A dialog ended (the caller's BYE or CANCEL, a timeout; a dialed party's BYE).
    Terminated(DialogId),
    /// A dialed party's phone rings (180/183 to our INVITE).
    Early(DialogId),
    /// An INVITE of ours got its final response: a dialed party's, or an outbound call's.
    Invited {
        /// The party (its `DialBLegUUID`) or the outbound call (its `CallUUID`): the
        /// INVITE's Call-ID.
        b_leg: CallId,
        /// How it ended.
        outcome: InviteOutcome,
    },
    /// An outbound call's `ring_timeout`, `hangup_on_ring` or `time_limit` ran out.
    Limit {
        /// The call.
        call: CallId,
        /// The cause it ends with, if still live.
        cause: crate::engine::HangupCause,
    },
    /// An RTP datagram for a call.
    Rtp {
        /// The call.
        call: CallId,
        /// The datagram as received.
        datagram: Vec<u8>,
    },
    /// Audio rendered for a call's `<Speak>`/`<Play>` part (`None`: it could not be).
    Rendered {
        /// The call.
        call: CallId,
        /// The media it is for.
        media: MediaId,
        /// Which part of it.
        part: u32,
        /// The samples, at 8 kHz.
        pcm: Option<Arc<[i16]>>,
    },
}

/// An INVITE ready to become a call.
pub struct NewCall {
    dialog: InviteDialog,
    from: String,
    to: String,
    leg: LegConfig,
    answer_sdp: String,
    socket: Arc<UdpSocket>,
    remote: SocketAddr,
}

/// A live call's SIP dialog and RTP leg; its socket's reader ends with it.
struct LiveCall {
    dialog: InviteDialog,
    dialog_id: DialogId,
    leg: Leg,
    socket: Arc<UdpSocket>,
    remote: SocketAddr,
    answer_sdp: String,
    answered: bool,
    receiver: tokio::task::JoinHandle<()>,
    /// For a dialed party (a B leg): its caller and the `<Dial>`'s media id.
    caller: Option<(CallId, MediaId)>,
}

impl Drop for LiveCall {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

/// Starts the SIP shell: binds `config.listen` (UDP) and answers calls until stopped, and the
/// REST server of `server` (its `listen`, credentials, webhook bounds and seed; `speed` and
/// `record` do not apply to real calls) beside it.
///
/// # Errors
/// [`SipError::Stack`] when the SIP address cannot be bound, [`SipError::Http`] when the REST
/// address cannot.
pub async fn start(config: SipConfig, server: ServerConfig) -> Result<RunningSip, SipError> {
    let cancel = CancellationToken::new();
    let transport = TransportLayer::new(cancel.clone());
    let udp = UdpConnection::create_connection(config.listen, None, Some(cancel.child_token()))
        .await
        .map_err(|e| SipError::Stack(e.to_string()))?;
    // TCP on the same port (RFC 3261 §18: a UA listens on both).
    let bound = udp.get_addr().get_socketaddr().map_err(|e| SipError::Stack(e.to_string()))?;
    let tcp = TcpListenerConnection::new(bound, None).await.map_err(|e| SipError::Stack(e.to_string()))?;
    std::net::TcpListener::bind(bound).map_err(|e| SipError::Stack(format!("TCP {bound}: {e}")))?;
    transport.add_transport(udp.into());
    transport.add_transport(tcp.into());
    let endpoint = EndpointBuilder::new()
        .with_cancel_token(cancel.clone())
        .with_transport_layer(transport)
        .with_user_agent("plivo-flow")
        .build();
    let addr = endpoint
        .get_addrs()
        .first()
        .and_then(|a| a.get_socketaddr().ok())
        .ok_or_else(|| SipError::Stack("no SIP address".into()))?;
    let incoming = endpoint.incoming_transactions().map_err(|e| SipError::Stack(e.to_string()))?;
    let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let (state_tx, state_rx) = dialogs.new_dialog_state_channel();
    let contact = dialogs.build_local_contact(None, None).map_err(|e| SipError::Stack(e.to_string()))?;
    // A dialog that came over TCP asks for its in-dialog requests over TCP too.
    let tcp_contact = dialogs
        .build_local_contact(None, Some(vec![Param::Transport(Transport::Tcp)]))
        .map_err(|e| SipError::Stack(e.to_string()))?;
    let (events, rx) = mpsc::channel(MAX_EVENTS);
    let keep = dialogs.clone();

    let mut tasks = Vec::new();
    let inner = endpoint.inner.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = inner.serve().await {
            tracing::warn!("SIP endpoint stopped: {e}");
        }
    }));
    tasks.push(tokio::spawn(states(state_rx, dialogs.clone(), events.clone())));
    let dialer = dial::Dialer::new(dialogs.clone(), state_tx.clone(), contact.clone(), addr, config.gateway);
    let ip = addr.ip();
    let ds = dialogs.clone();
    let ev = events.clone();
    tasks.push(tokio::spawn(async move {
        let mut incoming = incoming;
        while let Some(mut tx) = incoming.recv().await {
            if let Some(mut dialog) = ds.match_dialog(&tx) {
                tokio::spawn(async move {
                    let _ = dialog.handle(&mut tx).await;
                });
                continue;
            }
            match tx.original.method {
                Method::Invite => {
                    let tcp = tx
                        .original
                        .via_header()
                        .ok()
                        .and_then(|v| v.typed().ok())
                        .is_some_and(|v| v.transport == Transport::Tcp);
                    let contact = if tcp { tcp_contact.clone() } else { contact.clone() };
                    let Ok(dialog) = ds.get_or_create_server_invite(&tx, state_tx.clone(), None, Some(contact)) else {
                        // A re-INVITE of a dialog that ended (its To has our tag) is for no
                        // dialog we have (RFC 3261 §12.2.2: 481); anything else we could not
                        // take is ours (500).
                        let in_dialog = tx.original.to_header().ok().and_then(|t| t.tag().ok().flatten()).is_some();
                        let status = if in_dialog {
                            StatusCode::CallTransactionDoesNotExist
                        } else {
                            StatusCode::ServerInternalError
                        };
                        let _ = tx.reply(status).await;
                        continue;
                    };
                    match new_call(&tx.original, dialog.clone(), ip).await {
                        Ok(call) => {
                            if ev.send(Event::Invite(Box::new(call))).await.is_err() {
                                break;
                            }
                            let mut dialog = dialog;
                            tokio::spawn(async move {
                                let _ = dialog.handle(&mut tx).await;
                            });
                        }
                        Err(status) => {
                            let _ = tx.reply(status).await;
                            // Answered through the transaction, the dialog never terminates:
                            // it leaves the layer here (a scanner or a delayed offer would
                            // otherwise grow it for good).
                            ds.remove_dialog(&dialog.id());
                        }
                    }
                }
                Method::Options => {
                    let _ = tx.reply(StatusCode::OK).await;
                }
                Method::Ack => {}
                _ => {
                    let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                }
            }
        }
    }));
    let shell = SipShell {
        calls: HashMap::new(),
        by_dialog: HashMap::new(),
        events,
        espeak: config.espeak.clone(),
        lame: usable_encoder(config.lame.as_deref()).await,
        answer_url: config.answer_url.clone(),
        hangup_url: config.hangup_url.clone(),
        speech: Arc::default(),
        renders: Arc::new(tokio::sync::Semaphore::new(MAX_RENDERS)),
        encodes: Arc::new(tokio::sync::Semaphore::new(recording::MAX_ENCODES)),
        http: reqwest::Client::builder().timeout(PLAY_TIMEOUT).build().unwrap_or_default(),
        ticks: 0,
        buf: Vec::with_capacity(MAX_DATAGRAM),
        rtp: RtpCounters::new(),
        dialer,
        ringing_out: HashMap::new(),
        limits: HashMap::new(),
        recordings: recording::Buffers::default(),
        next_take: recording::TAKE_EVERY_TICKS,
        files: RecordingFiles::new(),
    };
    let files = shell.files.clone();
    // Real media run on the wall clock, whatever `--speed` says; cassettes record simulated
    // calls only.
    let server = ServerConfig { speed: 1.0, record: None, ..server };
    let spawn = move |setup: crate::server::DriverSetup| {
        let rt = Runtime::with_media(setup.runtime, AudioMedia::new());
        let config = DriverConfig { time_scale: 1.0, ..setup.driver };
        Driver::spawn_shell(rt, shell, rx, setup.webhooks, config).with_recording_files(files)
    };
    let server = match crate::server::start_with(server, spawn).await {
        Ok(s) => s,
        Err(e) => {
            cancel.cancel();
            for t in tasks {
                t.abort();
            }
            return Err(e.into());
        }
    };
    Ok(RunningSip { addr, http: server.addr, cancel, tasks, server, dialogs: keep })
}

/// The MP3 encoder if it runs (`PROGRAM --version` succeeds within 5 s), checked once at the
/// start: one that does not is warned of once, and recordings are then written as WAV only.
async fn usable_encoder(program: Option<&std::path::Path>) -> Option<PathBuf> {
    let program = program?;
    let check = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    match tokio::time::timeout(Duration::from_secs(5), check).await {
        Ok(Ok(status)) if status.success() => Some(program.to_owned()),
        _ => {
            tracing::warn!(
                "{}: cannot run; recordings are written as WAV only (their .mp3 URLs answer 404)",
                program.display()
            );
            None
        }
    }
}

/// Reads an INVITE: the offer answered, an RTP socket bound beside the SIP address.
async fn new_call(
    req: &rsipstack::sip::Request,
    dialog: InviteDialog,
    ip: std::net::IpAddr,
) -> Result<NewCall, StatusCode> {
    let user = |uri: Option<rsipstack::sip::Uri>| uri.and_then(|u| u.auth.map(|a| a.user)).unwrap_or_default();
    let from = user(req.from_header().ok().and_then(|h| h.uri().ok()));
    let to = user(req.to_header().ok().and_then(|h| h.uri().ok()));
    let body = std::str::from_utf8(&req.body).map_err(|_| StatusCode::NotAcceptableHere)?;
    let offer = SdpOffer::parse(body).map_err(|_| StatusCode::NotAcceptableHere)?;
    let negotiated = answer(&offer).map_err(|_| StatusCode::NotAcceptableHere)?;
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await.map_err(|_| StatusCode::ServiceUnavailable)?;
    let local = socket.local_addr().map_err(|_| StatusCode::ServiceUnavailable)?;
    let mut answer_sdp = String::new();
    write_answer(&negotiated, local, u64::from(local.port()), &mut answer_sdp);
    Ok(NewCall {
        dialog,
        from,
        to,
        leg: LegConfig::from(&negotiated),
        answer_sdp,
        socket: Arc::new(socket),
        remote: negotiated.remote,
    })
}

/// Dialog states: a dialog that terminated (BYE from the caller, CANCEL, timeout) ends its
/// call and leaves rsipstack's dialog layer (which keeps every dialog until told:
/// `DialogLayer::remove_dialog`); an early one (a dialed party's 180/183) makes its dial ring.
async fn states(mut rx: DialogStateReceiver, dialogs: Arc<DialogLayer>, events: mpsc::Sender<Event>) {
    while let Some(state) = rx.recv().await {
        let event = match state {
            DialogState::Terminated(id, _) => {
                dialogs.remove_dialog(&id);
                Event::Terminated(id)
            }
            DialogState::Early(id, _) => Event::Early(id),
            _ => continue,
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

/// `serve --sip`'s [`Shell`]: the live calls' dialogs and RTP legs, and rendering.
struct SipShell {
    calls: HashMap<CallId, LiveCall>,
    by_dialog: HashMap<DialogId, CallId>,
    events: mpsc::Sender<Event>,
    espeak: PathBuf,
    lame: Option<PathBuf>,
    answer_url: String,
    hangup_url: Option<String>,
    speech: Arc<std::sync::Mutex<SpeechCache>>,
    renders: Arc<tokio::sync::Semaphore>,
    /// Recording files being encoded (`recording::MAX_ENCODES`).
    encodes: Arc<tokio::sync::Semaphore>,
    http: reqwest::Client,
    ticks: u64,
    buf: Vec<u8>,
    rtp: RtpCounters,
    dialer: dial::Dialer,
    /// Outbound calls (`POST Call/`) whose INVITE has no final response yet.
    ringing_out: HashMap<CallId, outbound::Ringing>,
    /// The outbound calls' `ring_timeout`/`hangup_on_ring`/`time_limit` timers.
    limits: HashMap<CallId, Vec<tokio::task::AbortHandle>>,
    /// The running recordings' samples, taken from the media every
    /// [`recording::TAKE_EVERY_TICKS`] ticks.
    recordings: recording::Buffers,
    /// The tick count at which they are taken next.
    next_take: u64,
    /// Where finished recordings' files go (served at their `.wav` URLs).
    files: RecordingFiles,
}

/// `GET /metrics`' RTP counters ([`crate::server::metrics`]).
struct RtpCounters {
    packets_in: metrics::Counter,
    packets_out: metrics::Counter,
    late: metrics::Counter,
}

impl RtpCounters {
    /// The counters of the process's recorder (installed first, so that they count).
    fn new() -> RtpCounters {
        use crate::server::metrics::{RTP_LATE, RTP_PACKETS, install};
        let _ = install();
        RtpCounters {
            packets_in: metrics::counter!(RTP_PACKETS, "direction" => "in"),
            packets_out: metrics::counter!(RTP_PACKETS, "direction" => "out"),
            late: metrics::counter!(RTP_LATE),
        }
    }

    /// What `leg` counted since `before`.
    fn add(&self, before: LegStats, after: LegStats) {
        self.packets_in.increment(after.packets_in.saturating_sub(before.packets_in));
        self.packets_out.increment(after.packets_out.saturating_sub(before.packets_out));
        self.late.increment(after.late.saturating_sub(before.late));
    }
}

/// Most texts whose speech is kept, and most samples kept in all (10 minutes at 8 kHz, 9.6 MB):
/// a flow says the same prompts to every caller, and espeak-ng costs tens of milliseconds of
/// CPU a prompt. Beyond either, the oldest go.
pub const MAX_CACHED_SPEECH: usize = 256;
/// See [`MAX_CACHED_SPEECH`].
pub const MAX_CACHED_SAMPLES: usize = 10 * 60 * 8_000;

/// Synthesised speech by voice, language and text, oldest first out.
#[derive(Default)]
struct SpeechCache {
    pcm: HashMap<String, Arc<[i16]>>,
    order: std::collections::VecDeque<String>,
    samples: usize,
}

impl SpeechCache {
    fn get(&self, key: &str) -> Option<Arc<[i16]>> {
        self.pcm.get(key).cloned()
    }

    fn insert(&mut self, key: String, pcm: Arc<[i16]>) {
        if pcm.len() > MAX_CACHED_SAMPLES || self.pcm.contains_key(&key) {
            return;
        }
        self.samples += pcm.len();
        self.order.push_back(key.clone());
        self.pcm.insert(key, pcm);
        while self.pcm.len() > MAX_CACHED_SPEECH || self.samples > MAX_CACHED_SAMPLES {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(p) = self.pcm.remove(&old) {
                self.samples -= p.len();
            }
        }
    }
}

/// The cache key of a `<Speak>` (a `<Play>`'s file may change at its URL: not cached).
fn speech_key(request: &AudioRequest) -> Option<String> {
    match request {
        AudioRequest::Speak { text, voice, language } => {
            Some(format!("{voice:?}\u{0}{}\u{0}{text}", language.as_str()))
        }
        AudioRequest::Play { .. } => None,
    }
}

impl Shell for SipShell {
    type Media = AudioMedia;
    type Event = Event;

    fn handle(&mut self, rt: &mut Runtime<AudioMedia>, now: Duration, event: Event) {
        match event {
            Event::Invite(call) => self.invite(rt, now, *call),
            Event::Terminated(id) => {
                let Some(call) = self.by_dialog.remove(&id) else { return };
                if self.calls.get(&call).is_some_and(|c| c.caller.is_some()) {
                    self.callee_gone(rt, now, &call);
                } else if let Some(c) = rt.engine().call(&call).filter(|c| !c.is_ended()) {
                    let _span = call_span(Some(&call)).entered();
                    tracing::debug!("the far end's dialog ended");
                    // The far end of an outbound call is its callee.
                    let source = match c.setup().direction {
                        crate::engine::Direction::Outbound => HangupSource::Callee,
                        crate::engine::Direction::Inbound => HangupSource::Caller,
                    };
                    let _ = rt.handle_input(now, &call, Input::Hangup { source });
                }
            }
            Event::Rtp { call, datagram } => {
                let Some(live) = self.calls.get_mut(&call) else { return };
                let before = live.leg.stats();
                let received = live.leg.receive(&datagram);
                self.rtp.add(before, live.leg.stats());
                if received.is_err() {
                    return;
                }
                let media = rt.media_mut();
                while let Some(f) = live.leg.pop_frame() {
                    media.handle_frame(now, &call, &f);
                }
                while let Some(k) = live.leg.poll_key() {
                    media.handle_key(now, &call, k);
                }
            }
            Event::Rendered { call, media, part, pcm } => {
                rt.media_mut().provide_audio(&call, media, part, pcm);
            }
            Event::Early(id) => {
                let b_leg = CallId::from(id.call_id);
                if self.dialer.is_ringing(&b_leg) {
                    self.dial_ringing(rt, now, &b_leg);
                } else if self.is_ringing_out(&b_leg) {
                    self.outbound_ringing(&b_leg);
                }
            }
            Event::Invited { b_leg, outcome } if self.is_ringing_out(&b_leg) => {
                self.outbound_invited(rt, now, b_leg, outcome);
            }
            Event::Invited { b_leg, outcome } => self.invited(rt, now, b_leg, outcome),
            Event::Limit { call, cause } => self.limit_reached(rt, now, &call, cause),
        }
    }

    /// The media's work (SIP, rendering), and the frames each call hears: moved once a tick,
    /// not per datagram.
    fn service(&mut self, rt: &mut Runtime<AudioMedia>, now: Duration) -> bool {
        let mut busy = false;
        while let Some(work) = rt.media_mut().poll_work() {
            busy = true;
            self.work(rt, now, work);
        }
        let ticks = rt.media().ticks();
        if ticks != self.ticks {
            self.ticks = ticks;
            for (id, live) in &mut self.calls {
                while let Some(frame) = rt.media_mut().poll_heard(id) {
                    if live.answered {
                        let before = live.leg.stats();
                        live.leg.transmit(&frame, &mut self.buf);
                        self.rtp.add(before, live.leg.stats());
                        let _ = live.socket.try_send_to(&self.buf, live.remote);
                    }
                }
            }
            if ticks >= self.next_take {
                self.next_take = ticks + recording::TAKE_EVERY_TICKS;
                self.recordings.take_from(rt.media_mut(), self.calls.keys());
                self.recordings.take_rooms_from(rt.media_mut());
            }
        }
        busy
    }

    fn forgotten(&mut self, setup: &CallSetup) {
        if let Some(live) = self.calls.remove(&setup.id) {
            self.by_dialog.remove(&live.dialog_id);
        }
        self.forget_dial(&setup.id);
        self.cancel_outbound(&setup.id);
        self.forget_limits(&setup.id);
        self.recordings.forget(&setup.id);
    }

    /// `POST Call/`: an INVITE to the callee (the rules: `src/sip/outbound.rs`).
    fn start_call(
        &mut self,
        rt: &mut Runtime<AudioMedia>,
        now: Duration,
        setup: CallSetup,
        plan: &OutboundPlan,
    ) -> Result<CallId, StartRefused> {
        self.start_outbound(rt, now, setup, plan)
    }

    fn far_ends<'a>(&mut self, _: &'a mut Runtime<AudioMedia>) -> Option<&'a mut FarEnds> {
        None
    }
}

impl SipShell {
    fn invite(&mut self, rt: &mut Runtime<AudioMedia>, now: Duration, call: NewCall) {
        let dialog_id = call.dialog.id();
        if self.calls.len() >= MAX_CALLS {
            let _ = call.dialog.reject(Some(StatusCode::BusyHere), None);
            return;
        }
        let id = rt.new_uuid();
        let mut setup = CallSetup::inbound(id, &call.from, &call.to, &self.answer_url);
        if let Some(url) = &self.hangup_url {
            setup = setup.with_hangup(Webhook::new(url.as_str(), crate::xml::values::Method::Post));
        }
        let Ok(id) = rt.start_call(now, setup) else {
            let _ = call.dialog.reject(Some(StatusCode::ServerInternalError), None);
            return;
        };
        let span = call_span(Some(&id));
        tracing::debug!(parent: &span, from = %call.from, to = %call.to, remote = %call.remote, "INVITE answered with SDP");
        let reader = receive_rtp(call.socket.clone(), call.remote, id.clone(), self.events.clone());
        let receiver = tokio::spawn(reader.instrument(span));
        let seed = u32::from(call.socket.local_addr().map_or(0, |a| a.port()));
        let leg = Leg::new(call.leg, seed.wrapping_mul(2_654_435_761), seed as u16, seed.wrapping_mul(40_503));
        self.by_dialog.insert(dialog_id.clone(), id.clone());
        self.calls.insert(
            id,
            LiveCall {
                dialog: call.dialog,
                dialog_id,
                leg,
                socket: call.socket,
                remote: call.remote,
                answer_sdp: call.answer_sdp,
                answered: false,
                receiver,
                caller: None,
            },
        );
    }

    fn work(&mut self, rt: &mut Runtime<AudioMedia>, now: Duration, work: Work) {
        let _span = call_span(work.call()).entered();
        match work {
            Work::Answer(call) => {
                if let Some(live) = self.calls.get_mut(&call)
                    && !live.answered
                {
                    live.answered = true;
                    let headers = vec![Header::ContentType("application/sdp".into())];
                    let _ = live.dialog.accept(Some(headers), Some(live.answer_sdp.clone().into_bytes()));
                }
            }
            Work::PreAnswer(_) => {}
            Work::Hangup(call) => {
                if let Some(live) = self.calls.get(&call) {
                    let dialog = live.dialog.clone();
                    if live.answered {
                        tokio::spawn(async move {
                            let _ = dialog.hangup().await;
                        });
                    } else {
                        let _ = dialog.reject(Some(StatusCode::Decline), None);
                    }
                } else {
                    self.cancel_outbound(&call);
                }
            }
            Work::Render { call, media, part, request } => {
                let key = speech_key(&request);
                let cached = key.as_deref().and_then(|k| self.speech.lock().ok().and_then(|c| c.get(k)));
                if let Some(pcm) = cached {
                    rt.media_mut().provide_audio(&call, media, part, Some(pcm));
                    return;
                }
                let events = self.events.clone();
                let espeak = self.espeak.clone();
                let cache = self.speech.clone();
                let renders = self.renders.clone();
                let http = self.http.clone();
                tokio::spawn(async move {
                    let Ok(_turn) = renders.acquire_owned().await else { return };
                    // The same text may have been synthesised while this one waited.
                    let cached = key.as_deref().and_then(|k| cache.lock().ok().and_then(|c| c.get(k)));
                    let pcm = match (cached, request) {
                        (Some(pcm), _) => Some(pcm),
                        (None, AudioRequest::Speak { text, voice, language }) => {
                            match speak(&espeak, &text, &voice, &language).await {
                                Ok(pcm) => {
                                    let pcm: Arc<[i16]> = pcm.into();
                                    if let (Some(k), Ok(mut c)) = (key, cache.lock()) {
                                        c.insert(k, pcm.clone());
                                    }
                                    Some(pcm)
                                }
                                Err(e) => {
                                    tracing::warn!("<Speak> not synthesised: {e}");
                                    None
                                }
                            }
                        }
                        (None, AudioRequest::Play { url }) => fetch_audio(&http, &url).await.map(Arc::from),
                    };
                    let _ = events.send(Event::Rendered { call, media, part, pcm }).await;
                });
            }
            Work::SendDigits { call, digits } => {
                if let Some(live) = self.calls.get_mut(&call) {
                    live.leg.send_digits(&digits);
                }
            }
            Work::Dial { call, media, dial } => self.dial(rt, now, call, media, &dial),
            Work::EndDial { call, .. } => self.end_dial(&call),
            Work::RecordingDone { call, media, recording, format, duration_ms } => {
                let last = rt.media_mut().take_recorded(&call, media);
                let samples = self.recordings.finish(&call, media, &last);
                let lame = self.lame.as_deref();
                recording::write_file(&self.files, &self.encodes, &recording, format, lame, samples, duration_ms);
            }
            Work::RoomRecordingDone { room, recording, format, duration_ms, last } => {
                let mut samples = self.recordings.finish(&recording::room_key(&recording), MediaId(0), &last);
                // Exactly the engine's duration: its count is of time, the mix's of ticks.
                samples.resize(
                    usize::try_from(duration_ms.saturating_mul(8))
                        .unwrap_or(usize::MAX)
                        .min(recording::MAX_FILE_SAMPLES),
                    0,
                );
                tracing::debug!(room = %room, recording = %recording, duration_ms, "conference recording ended");
                let lame = self.lame.as_deref();
                recording::write_file(&self.files, &self.encodes, &recording, format, lame, samples, duration_ms);
            }
        }
    }
}

/// A `<Play>` URL's audio at 8 kHz, if it is a WAV or MP3 file ([`audio_file::decode`],
/// hinted by the URL's extension and the `Content-Type`) of at most
/// [`audio_file::MAX_AUDIO_BYTES`] fetched within [`PLAY_TIMEOUT`].
async fn fetch_audio(http: &reqwest::Client, url: &str) -> Option<Vec<i16>> {
    let mut resp = http.get(url).send().await.ok()?.error_for_status().ok()?;
    if resp.content_length().is_some_and(|n| n > audio_file::MAX_AUDIO_BYTES as u64) {
        return None;
    }
    let content_type = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let hint = audio_file::Hint::of_url(url, content_type);
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        if body.len() + chunk.len() > audio_file::MAX_AUDIO_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    let decoded = tokio::task::spawn_blocking(move || audio_file::decode(&body, &hint)).await.ok()?;
    decoded.map_err(|e| tracing::warn!("<Play> of {url} not decoded: {e}")).ok()
}

/// Reads a call's RTP socket into the driver's queue: only datagrams from the SDP's address
/// (any port: a peer may send from another than it receives on), so that nobody else can
/// speak or press keys into the call.
async fn receive_rtp(socket: Arc<UdpSocket>, remote: SocketAddr, call: CallId, events: mpsc::Sender<Event>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else { return };
        if from.ip() != remote.ip() {
            continue;
        }
        let datagram = buf.get(..n).unwrap_or(&[]).to_vec();
        if let Err(mpsc::error::TrySendError::Closed(_)) = events.try_send(Event::Rtp { call: call.clone(), datagram })
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::usable_encoder;

    #[tokio::test]
    async fn an_encoder_that_does_not_run_is_dropped_at_the_start() {
        assert_eq!(usable_encoder(None).await, None);
        assert_eq!(usable_encoder(Some(Path::new("/nonexistent/lame"))).await, None);
        assert_eq!(usable_encoder(Some(Path::new("false"))).await, None, "fails --version");
        assert_eq!(usable_encoder(Some(Path::new("true"))).await.as_deref(), Some(Path::new("true")));
    }
}
