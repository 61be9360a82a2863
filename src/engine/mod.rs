//! The sans-IO call engine: per-call state machines ([`Call`]) and conference rooms
//! ([`Conferences`]).
//!
//! Nothing here does I/O, reads a clock or spawns: inputs carry the current time (a
//! [`Duration`](std::time::Duration) since an epoch the driver picks) and outputs are drained
//! by the driver.

mod call;
mod cause;
mod ids;
pub(crate) use ids::fnv1a;
mod io;
mod rooms;
mod switch;

pub use call::{
    API_PLAY, API_SPEAK, Call, CallConfig, CallEnd, CallLegs, CallOp, CallOpError, CallSetup, CallStatus,
    DEFAULT_TRANSCRIPTION, Webhook,
};
pub use io::{
    CallEvent, Callback, Collect, Command, DialEvent, DialStatus, FetchReply, HttpRequest, Input, Listener, MediaEvent,
    MediaVerb, Output, Purpose, RecordMode, RecordingRef, Reply, RoomSound, VerbOutcome, VerbRef,
};

pub use cause::{HangupCause, HangupSource};
pub use ids::{AccountId, CallId, IdGen, MediaId, MemberId, RecordingId, RequestId, RoomUuid};
pub use rooms::{
    ConferenceError, Conferences, Direction, EndReason, JoinRequest, LeaveReason, MemberInfo, MemberMedia,
    MemberSnapshot, MemberTarget, RecordSpec, RecordingInfo, RoomEvent, RoomKind, RoomSnapshot, RoomsConfig,
};
pub use switch::{Engine, EngineConfig, EngineError, EngineOutput, RoomOps};
