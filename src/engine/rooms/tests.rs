//! Every room rule as exact event sequences.

use std::sync::Arc;
use std::time::Duration;

use super::registry::room_not_found;
use super::*;
use crate::engine::{CallId, IdGen, MemberId};
use crate::xml::values::{FileFormat, FromXml, Method, Url};

const ACCT: &str = "MA1";

/// Member ids from numbers.
fn mids(ids: &[u32]) -> Vec<MemberId> {
    ids.iter().copied().map(MemberId).collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn reg() -> Conferences {
    Conferences::new(RoomsConfig::default())
}

fn call(c: &str) -> CallId {
    CallId::from(c)
}

fn info(c: &str) -> MemberInfo {
    MemberInfo {
        call: call(c),
        from: format!("from-{c}").into(),
        to: format!("to-{c}").into(),
        caller_name: format!("name-{c}").into(),
        direction: Direction::Inbound,
    }
}

fn req(room: &str) -> JoinRequest {
    JoinRequest {
        account: ACCT.into(),
        room: room.to_owned(),
        kind: RoomKind::Conference,
        muted: false,
        hold: false,
        start_on_enter: true,
        end_on_exit: false,
        stay_alone: true,
        max_members: 20,
        time_limit: None,
        record: None,
    }
}

fn join(c: &mut Conferences, now: u64, r: JoinRequest, who: &str) {
    c.join(secs(now), r, info(who)).unwrap();
}

fn drain(c: &mut Conferences) -> Vec<RoomEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// A compact rendering of an event, for exact ordered comparisons.
fn show(e: &RoomEvent) -> String {
    match e {
        RoomEvent::Joined { call, room, member_id, started, first, .. } => format!(
            "join {room} {call} #{member_id}{}{}",
            if *started { " started" } else { " waiting" },
            if *first { " first" } else { "" }
        ),
        RoomEvent::Refused { call, room, max_members } => format!("refused {room} {call} max={max_members}"),
        RoomEvent::Started { call, room } => format!("started {room} {call}"),
        RoomEvent::Left { call, member_id, reason, recording, .. } => {
            format!("left {call} #{member_id} {reason:?}{}", if recording.is_some() { " rec" } else { "" })
        }
        RoomEvent::Muted { member_id, muted, .. } => format!("muted #{member_id} {muted}"),
        RoomEvent::Deafened { member_id, deaf, .. } => format!("deaf #{member_id} {deaf}"),
        RoomEvent::Held { call, member_id, held, .. } => format!("held {call} #{member_id} {held}"),
        RoomEvent::Floor { call, member_id, .. } => format!("floor {call} #{member_id}"),
        RoomEvent::Media { members, .. } => format!("media {:?}", members.iter().map(|m| m.0).collect::<Vec<_>>()),
        RoomEvent::RecordingStarted { room, .. } => format!("rec-start {room}"),
        RoomEvent::RecordingFinished { room, ended_at, .. } => {
            format!("rec-finish {room} at={}", ended_at.as_secs())
        }
        RoomEvent::Ended { room, reason, .. } => format!("ended {room} {reason:?}"),
    }
}

fn shown(c: &mut Conferences) -> Vec<String> {
    drain(c).iter().map(show).collect()
}

fn ids(v: &[u32]) -> MemberTarget {
    MemberTarget::Ids(mids(v))
}

fn rec_spec(format: FileFormat) -> RecordSpec {
    RecordSpec { format, callback: Some((Url::from_xml("https://cb.example/rec").unwrap(), Method::Post)) }
}

/// No member, room, index entry or timer is left behind.
fn assert_no_state(c: &Conferences) {
    assert!(c.is_empty());
    assert!(c.members.is_empty());
    assert!(c.deadlines.is_empty());
    assert_eq!(c.poll_timeout(), None);
}

// ---- MemberTarget ----

#[test]
fn target_parsing() {
    assert_eq!("all".parse::<MemberTarget>(), Ok(MemberTarget::All));
    assert_eq!("ALL".parse::<MemberTarget>(), Ok(MemberTarget::All));
    assert_eq!(" All ".parse::<MemberTarget>(), Ok(MemberTarget::All));
    assert_eq!("10".parse::<MemberTarget>(), Ok(ids(&[10])));
    assert_eq!("12,10,11".parse::<MemberTarget>(), Ok(ids(&[10, 11, 12])));
    assert_eq!(" 10 , 11,10 ".parse::<MemberTarget>(), Ok(ids(&[10, 11])));
    assert_eq!("0".parse::<MemberTarget>(), Ok(ids(&[0])));
    assert_eq!("4294967295".parse::<MemberTarget>(), Ok(ids(&[u32::MAX])));
    for bad in ["", "  ", "10,", ",10", "10,,11", "x", "1a", "+5", "-1", "4294967296", "all,1", "1 2", "alll"] {
        assert_eq!(bad.parse::<MemberTarget>(), Err(ConferenceError::InvalidTarget(bad.to_owned())), "{bad:?}");
    }
    assert_eq!(MemberTarget::All.to_string(), "all");
    assert_eq!(ids(&[10, 11, 12]).to_string(), "10,11,12");
    let round: MemberTarget = ids(&[3, 7]).to_string().parse().unwrap();
    assert_eq!(round, ids(&[3, 7]));
}

#[test]
fn error_messages() {
    let one = ConferenceError::MembersNotFound { room: "r".into(), ids: mids(&[5]) };
    assert_eq!(one.to_string(), "member 5 not found in conference `r`");
    let two = ConferenceError::MembersNotFound { room: "r".into(), ids: mids(&[5, 9]) };
    assert_eq!(two.to_string(), "members 5, 9 not found in conference `r`");
    assert_eq!(room_not_found("x").to_string(), "conference `x` not found");
}

// ---- join ----

#[test]
fn first_join_creates_room_with_fresh_uuid() {
    let mut c = reg();
    assert_eq!(c.poll_timeout(), None);
    join(&mut c, 5, req("r"), "c1");
    let uuid = IdGen::new(1).uuid();
    assert_eq!(
        drain(&mut c),
        vec![RoomEvent::Joined {
            call: call("c1"),
            room: "r".into(),
            uuid: uuid.clone().into(),
            member_id: MemberId(1),
            started: true,
            first: true,
            muted: false,
            held: false
        }]
    );
    assert_eq!(c.len(), 1);
    assert_eq!(c.room_of(&call("c1")), Some((RoomKind::Conference, "r", MemberId(1))));
    assert_eq!(c.room_of(&call("nobody")), None);
    assert_eq!(c.member_count(ACCT, RoomKind::Conference, "r"), Some(1));

    join(&mut c, 6, req("r"), "c2");
    assert_eq!(
        drain(&mut c),
        vec![RoomEvent::Joined {
            call: call("c2"),
            room: "r".into(),
            uuid: uuid.into(),
            member_id: MemberId(2),
            started: true,
            first: false,
            muted: false,
            held: false
        }]
    );
    assert_eq!(c.len(), 1);
}

#[test]
fn joining_twice_is_refused_with_error_and_changes_nothing() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    drain(&mut c);
    assert_eq!(c.join(secs(1), req("r"), info("c1")), Err(ConferenceError::AlreadyInRoom(call("c1"))));
    assert_eq!(c.join(secs(1), req("other"), info("c1")), Err(ConferenceError::AlreadyInRoom(call("c1"))));
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.len(), 1);
    join(&mut c, 2, req("r"), "c2");
    // The failed joins consumed no member id.
    assert_eq!(shown(&mut c), ["join r c2 #2 started"]);
}

#[test]
fn member_ids_are_global_and_never_reused() {
    let mut c = reg();
    join(&mut c, 0, req("a"), "c1");
    join(&mut c, 0, req("b"), "c2");
    join(&mut c, 0, req("a"), "c3");
    let mut mpc = req("a");
    mpc.kind = RoomKind::MultiParty;
    join(&mut c, 0, mpc.clone(), "c4");
    let mut other_acct = req("a");
    other_acct.account = "MA2".into();
    join(&mut c, 0, other_acct, "c5");
    assert_eq!(
        shown(&mut c),
        [
            "join a c1 #1 started first",
            "join b c2 #2 started first",
            "join a c3 #3 started",
            "join a c4 #4 started first",
            "join a c5 #5 started first",
        ]
    );
    assert_eq!(c.len(), 4);
    // Distinct rooms get distinct UUIDs.
    let ua = c.get(secs(0), ACCT, "a").unwrap().uuid;
    let ub = c.get(secs(0), ACCT, "b").unwrap().uuid;
    assert_ne!(ua, ub);
    assert_eq!(c.room_of(&call("c4")), Some((RoomKind::MultiParty, "a", MemberId(4))));

    // A call that left can rejoin, with a new id; ids are not reused.
    assert!(c.leave(secs(1), &call("c1"), LeaveReason::HangupOnStar));
    join(&mut c, 2, req("a"), "c1");
    assert_eq!(shown(&mut c), ["left c1 #1 HangupOnStar", "join a c1 #6 started"]);
    // Room "b" empties and is recreated: new UUID, ids keep counting.
    assert!(c.leave(secs(3), &call("c2"), LeaveReason::CallHungUp));
    join(&mut c, 4, req("b"), "c2");
    assert_eq!(shown(&mut c), ["left c2 #2 CallHungUp", "ended b Empty", "join b c2 #7 started first"]);
    assert_ne!(c.get(secs(4), ACCT, "b").unwrap().uuid, ub);
}

#[test]
fn max_members_refusal_consumes_no_id() {
    let mut c = reg();
    let mut first = req("r");
    first.max_members = 2;
    join(&mut c, 0, first, "c1");
    let mut big = req("r");
    big.max_members = 20; // ignored: the first member fixed the capacity
    join(&mut c, 0, big.clone(), "c2");
    join(&mut c, 0, big.clone(), "c3");
    assert_eq!(
        drain(&mut c).iter().map(show).collect::<Vec<_>>(),
        ["join r c1 #1 started first", "join r c2 #2 started", "refused r c3 max=2"]
    );
    assert_eq!(c.room_of(&call("c3")), None);
    assert!(c.leave(secs(1), &call("c2"), LeaveReason::CallHungUp));
    join(&mut c, 2, big, "c3");
    assert_eq!(shown(&mut c), ["left c2 #2 CallHungUp", "join r c3 #3 started"]);

    // A first member with capacity 0 creates nothing.
    let mut zero = req("z");
    zero.max_members = 0;
    join(&mut c, 3, zero, "c9");
    assert_eq!(shown(&mut c), ["refused z c9 max=0"]);
    assert_eq!(c.len(), 1);
}

#[test]
fn joined_member_settings_show_in_get() {
    let mut c = reg();
    let mut r = req("r");
    r.muted = true;
    join(&mut c, 10, r, "c1");
    let s = c.get(secs(15), ACCT, "r").unwrap();
    assert!(s.members[0].muted);
    assert!(!s.members[0].deaf);
}

// ---- start_on_enter ----

#[test]
fn waiting_members_get_started_after_the_starter_joins() {
    let mut c = reg();
    let mut wait = req("r");
    wait.start_on_enter = false;
    join(&mut c, 0, wait.clone(), "c1");
    join(&mut c, 1, wait.clone(), "c2");
    assert_eq!(shown(&mut c), ["join r c1 #1 waiting first", "join r c2 #2 waiting"]);
    assert!(!c.get(secs(1), ACCT, "r").unwrap().started);

    let mut rec = req("r");
    rec.record = Some(rec_spec(FileFormat::Mp3));
    join(&mut c, 2, rec, "c3");
    assert_eq!(shown(&mut c), ["join r c3 #3 started", "started r c1", "started r c2", "rec-start r"]);
    assert!(c.get(secs(2), ACCT, "r").unwrap().started);

    // Started for good: a later non-starter joins started; the starter leaving changes nothing.
    assert!(c.leave(secs(3), &call("c3"), LeaveReason::CallHungUp));
    join(&mut c, 4, wait, "c4");
    assert_eq!(shown(&mut c), ["left c3 #3 CallHungUp rec", "join r c4 #4 started"]);
}

// ---- leave ----

#[test]
fn leave_of_unknown_call_is_false() {
    let mut c = reg();
    assert!(!c.leave(secs(0), &call("x"), LeaveReason::CallHungUp));
    assert!(drain(&mut c).is_empty());
}

#[test]
fn hangup_on_star_leaves_room_which_persists() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    join(&mut c, 0, req("r"), "c2");
    drain(&mut c);
    assert!(c.leave(secs(9), &call("c1"), LeaveReason::HangupOnStar));
    let uuid = IdGen::new(1).uuid();
    assert_eq!(
        drain(&mut c),
        vec![RoomEvent::Left {
            call: call("c1"),
            room: "r".into(),
            uuid: uuid.into(),
            member_id: MemberId(1),
            reason: LeaveReason::HangupOnStar,
            last: false,
            recording: None
        }]
    );
    assert_eq!(c.room_of(&call("c1")), None);
    assert_eq!(c.member_count(ACCT, RoomKind::Conference, "r"), Some(1));
    assert!(!c.leave(secs(9), &call("c1"), LeaveReason::HangupOnStar));
}

#[test]
fn a_left_says_whether_the_room_is_empty_now() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    join(&mut c, 0, req("r"), "c2");
    join(&mut c, 0, req("r"), "c3");
    drain(&mut c);
    let lasts = |c: &mut Conferences| -> Vec<(String, bool)> {
        drain(c)
            .into_iter()
            .filter_map(|e| match e {
                RoomEvent::Left { call, last, .. } => Some((call.to_string(), last)),
                _ => None,
            })
            .collect()
    };
    // The first to join leaves first: others remain, so it is not the last.
    assert!(c.leave(secs(1), &call("c1"), LeaveReason::CallHungUp));
    assert_eq!(lasts(&mut c), [("c1".to_owned(), false)]);
    // Ending the room: every member leaves; only the exit that empties it is the last.
    assert!(c.leave(secs(2), &call("c3"), LeaveReason::Kicked));
    assert!(c.leave(secs(3), &call("c2"), LeaveReason::Kicked));
    assert_eq!(lasts(&mut c), [("c3".to_owned(), false), ("c2".to_owned(), true)]);
}

#[test]
fn last_member_leaving_ends_the_room_empty() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    drain(&mut c);
    assert!(c.leave(secs(3), &call("c1"), LeaveReason::CallHungUp));
    let uuid = IdGen::new(1).uuid();
    let ev = drain(&mut c);
    assert_eq!(ev.len(), 2);
    assert_eq!(
        ev[1],
        RoomEvent::Ended { account: ACCT.into(), room: "r".into(), uuid: uuid.into(), reason: EndReason::Empty }
    );
    assert_no_state(&c);
    assert_eq!(c.get(secs(3), ACCT, "r"), Err(room_not_found("r")));
}

// ---- kick ----

#[test]
fn kick_one_of_two_keeps_the_room() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    join(&mut c, 0, req("r"), "c2");
    drain(&mut c);
    assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[1])), Ok(mids(&[1])));
    assert_eq!(shown(&mut c), ["left c1 #1 Kicked"]);
    assert_eq!(c.list(ACCT), ["r"]);
    let s = c.get(secs(1), ACCT, "r").unwrap();
    assert_eq!(s.members.len(), 1);
    assert_eq!(s.members[0].member_id, MemberId(2));
    assert_eq!(c.room_of(&call("c2")), Some((RoomKind::Conference, "r", MemberId(2))));
}

#[test]
fn kick_all_removes_the_room() {
    let mut c = reg();
    for who in ["c1", "c2", "c3"] {
        join(&mut c, 0, req("r"), who);
    }
    drain(&mut c);
    assert_eq!(c.kick(secs(1), ACCT, "r", &MemberTarget::All), Ok(mids(&[1, 2, 3])));
    assert_eq!(shown(&mut c), ["left c1 #1 Kicked", "left c2 #2 Kicked", "left c3 #3 Kicked", "ended r Empty"]);
    assert_no_state(&c);
    assert!(c.list(ACCT).is_empty());
    assert_eq!(c.kick(secs(2), ACCT, "r", &MemberTarget::All), Err(room_not_found("r")));
}

#[test]
fn kick_with_unknown_ids_changes_nothing() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    join(&mut c, 0, req("r"), "c2");
    drain(&mut c);
    assert_eq!(
        c.kick(secs(1), ACCT, "r", &ids(&[1, 7])),
        Err(ConferenceError::MembersNotFound { room: "r".into(), ids: mids(&[7]) })
    );
    // Unsorted, duplicated input: the unknown ones, ascending, once each.
    assert_eq!(
        c.kick(secs(1), ACCT, "r", &ids(&[9, 2, 5, 9])),
        Err(ConferenceError::MembersNotFound { room: "r".into(), ids: mids(&[5, 9]) })
    );
    assert_eq!(
        c.hangup_members(secs(1), ACCT, "r", &ids(&[3])),
        Err(ConferenceError::MembersNotFound { room: "r".into(), ids: mids(&[3]) })
    );
    assert_eq!(c.kick(secs(1), ACCT, "nope", &ids(&[1])), Err(room_not_found("nope")));
    assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[])), Err(ConferenceError::InvalidTarget(String::new())));
    // Another account's room of the same name is not reachable.
    assert_eq!(c.kick(secs(1), "MA2", "r", &ids(&[1])), Err(room_not_found("r")));
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.get(secs(1), ACCT, "r").unwrap().members.len(), 2);
    assert!(c.room_of(&call("c1")).is_some());
}

#[test]
fn rest_operations_do_not_reach_multiparty_rooms() {
    let mut c = reg();
    let mut mpc = req("r");
    mpc.kind = RoomKind::MultiParty;
    join(&mut c, 0, mpc, "c1");
    drain(&mut c);
    assert_eq!(c.kick(secs(1), ACCT, "r", &MemberTarget::All), Err(room_not_found("r")));
    assert_eq!(c.end(secs(1), ACCT, "r"), Err(room_not_found("r")));
    assert_eq!(c.get(secs(1), ACCT, "r"), Err(room_not_found("r")));
    assert!(c.list(ACCT).is_empty());
    assert!(c.end_all(secs(1), ACCT).is_empty());
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.len(), 1);
}

// ---- member hangup ----

#[test]
fn hangup_members_leave_with_member_hung_up() {
    let mut c = reg();
    for who in ["c1", "c2", "c3"] {
        join(&mut c, 0, req("r"), who);
    }
    drain(&mut c);
    assert_eq!(c.hangup_members(secs(1), ACCT, "r", &"3,1".parse().unwrap()), Ok(mids(&[1, 3])));
    assert_eq!(shown(&mut c), ["left c1 #1 MemberHungUp", "left c3 #3 MemberHungUp"]);
    assert_eq!(c.hangup_members(secs(2), ACCT, "r", &MemberTarget::All), Ok(mids(&[2])));
    assert_eq!(shown(&mut c), ["left c2 #2 MemberHungUp", "ended r Empty"]);
    assert_no_state(&c);
}

// ---- end_on_exit ----

#[test]
fn end_on_exit_member_leaving_ends_the_room() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    let mut host = req("r");
    host.end_on_exit = true;
    join(&mut c, 0, host, "c2");
    join(&mut c, 0, req("r"), "c3");
    join(&mut c, 0, req("r"), "c4");
    drain(&mut c);
    assert!(c.leave(secs(5), &call("c2"), LeaveReason::CallHungUp));
    assert_eq!(
        shown(&mut c),
        [
            "left c2 #2 CallHungUp",
            "left c1 #1 RoomEnded",
            "left c3 #3 RoomEnded",
            "left c4 #4 RoomEnded",
            "ended r EndOnExit"
        ]
    );
    assert_no_state(&c);
}

#[test]
fn end_on_exit_member_alone_ends_room_empty() {
    let mut c = reg();
    let mut host = req("r");
    host.end_on_exit = true;
    join(&mut c, 0, host, "c1");
    drain(&mut c);
    assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[1])), Ok(mids(&[1])));
    assert_eq!(shown(&mut c), ["left c1 #1 Kicked", "ended r Empty"]);
}

#[test]
fn kicking_a_group_containing_an_end_on_exit_member() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    let mut host = req("r");
    host.end_on_exit = true;
    join(&mut c, 0, host, "c2");
    join(&mut c, 0, req("r"), "c3");
    join(&mut c, 0, req("r"), "c4");
    drain(&mut c);
    // 3 is in the batch (keeps its Kicked), 4 is not (removed by the room ending).
    assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[1, 2, 3])), Ok(mids(&[1, 2, 3])));
    assert_eq!(
        shown(&mut c),
        ["left c1 #1 Kicked", "left c2 #2 Kicked", "left c3 #3 Kicked", "left c4 #4 RoomEnded", "ended r EndOnExit"]
    );
    assert_no_state(&c);
}

#[test]
fn hanging_up_all_with_an_end_on_exit_member_hangs_up_every_call() {
    let mut c = reg();
    let mut host = req("r");
    host.end_on_exit = true;
    join(&mut c, 0, host, "c1");
    join(&mut c, 0, req("r"), "c2");
    join(&mut c, 0, req("r"), "c3");
    drain(&mut c);
    assert_eq!(c.hangup_members(secs(1), ACCT, "r", &MemberTarget::All), Ok(mids(&[1, 2, 3])));
    assert_eq!(
        shown(&mut c),
        ["left c1 #1 MemberHungUp", "left c2 #2 MemberHungUp", "left c3 #3 MemberHungUp", "ended r EndOnExit"]
    );
    assert_no_state(&c);
}

#[test]
fn kick_all_whose_end_on_exit_member_leaves_last_ends_empty() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    join(&mut c, 0, req("r"), "c2");
    let mut host = req("r");
    host.end_on_exit = true;
    join(&mut c, 0, host, "c3");
    drain(&mut c);
    // The host leaves last, into an empty room: nobody is left for end_on_exit to remove.
    assert_eq!(c.kick(secs(1), ACCT, "r", &MemberTarget::All), Ok(mids(&[1, 2, 3])));
    let events = drain(&mut c);
    assert!(matches!(events.last(), Some(RoomEvent::Ended { reason: EndReason::Empty, .. })));
    let lasts: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            RoomEvent::Left { last, .. } => Some(*last),
            _ => None,
        })
        .collect();
    assert_eq!(lasts, [false, false, true]);
    join(&mut c, 2, req("r"), "c1");
    let mut host = req("r");
    host.end_on_exit = true;
    join(&mut c, 2, host, "c3");
    drain(&mut c);
    assert_eq!(c.kick(secs(3), ACCT, "r", &ids(&[4, 5])), Ok(mids(&[4, 5])));
    assert_eq!(shown(&mut c), ["left c1 #4 Kicked", "left c3 #5 Kicked", "ended r Empty"]);
    assert_no_state(&c);
}

// ---- stay_alone ----

#[test]
fn stay_alone_false_member_left_alone_is_removed() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    let mut lonely = req("r");
    lonely.stay_alone = false;
    join(&mut c, 0, lonely, "c2");
    // Alone at join time is fine: the rule applies after a departure.
    let mut c_alone = reg();
    let mut solo = req("s");
    solo.stay_alone = false;
    join(&mut c_alone, 0, solo, "x");
    assert_eq!(shown(&mut c_alone), ["join s x #1 started first"]);

    drain(&mut c);
    assert!(c.leave(secs(2), &call("c1"), LeaveReason::HangupOnStar));
    assert_eq!(shown(&mut c), ["left c1 #1 HangupOnStar", "left c2 #2 StayAlone", "ended r StayAlone"]);
    assert_no_state(&c);
}

#[test]
fn stay_alone_true_member_left_alone_stays() {
    let mut c = reg();
    let mut lonely = req("r");
    lonely.stay_alone = false;
    join(&mut c, 0, lonely, "c1");
    join(&mut c, 0, req("r"), "c2");
    join(&mut c, 0, req("r"), "c3");
    drain(&mut c);
    // Two remain: nothing happens.
    assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[3])), Ok(mids(&[3])));
    assert_eq!(shown(&mut c), ["left c3 #3 Kicked"]);
    // c1 (stayAlone=false) leaves; c2 (stayAlone=true) stays alone.
    assert!(c.leave(secs(1), &call("c1"), LeaveReason::CallHungUp));
    assert_eq!(shown(&mut c), ["left c1 #1 CallHungUp"]);
    assert_eq!(c.len(), 1);
}

#[test]
fn kick_all_with_stay_alone_false_members_kicks_everyone() {
    let mut c = reg();
    let mut lonely = req("r");
    lonely.stay_alone = false;
    for who in ["c1", "c2", "c3"] {
        join(&mut c, 0, lonely.clone(), who);
    }
    drain(&mut c);
    assert_eq!(c.kick(secs(1), ACCT, "r", &MemberTarget::All), Ok(mids(&[1, 2, 3])));
    assert_eq!(shown(&mut c), ["left c1 #1 Kicked", "left c2 #2 Kicked", "left c3 #3 Kicked", "ended r Empty"]);
    // But kicking only some leaves a lone stayAlone=false member to be torn down.
    for who in ["c1", "c2", "c3"] {
        join(&mut c, 2, lonely.clone(), who);
    }
    drain(&mut c);
    assert_eq!(c.kick(secs(3), ACCT, "r", &ids(&[4, 5])), Ok(mids(&[4, 5])));
    assert_eq!(shown(&mut c), ["left c1 #4 Kicked", "left c2 #5 Kicked", "left c3 #6 StayAlone", "ended r StayAlone"]);
    assert_no_state(&c);
}

// ---- time limit ----

#[test]
fn time_limit_closes_the_room() {
    let mut c = reg();
    let mut first = req("r");
    first.time_limit = Some(secs(60));
    join(&mut c, 10, first, "c1");
    let mut later = req("r");
    later.time_limit = Some(secs(5)); // ignored: fixed by the first member
    join(&mut c, 20, later, "c2");
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(secs(70)));
    c.handle_timeout(secs(69));
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.len(), 1);
    c.handle_timeout(secs(70));
    assert_eq!(shown(&mut c), ["left c1 #1 TimeLimit", "left c2 #2 TimeLimit", "ended r TimeLimit"]);
    assert_no_state(&c);
    c.handle_timeout(secs(1000));
    assert!(drain(&mut c).is_empty());
}

#[test]
fn time_limits_of_several_rooms_fire_in_deadline_order() {
    let mut c = reg();
    let mut a = req("a");
    a.time_limit = Some(secs(30));
    let mut b = req("b");
    b.time_limit = Some(secs(10));
    let mut d = req("d");
    d.time_limit = Some(secs(100));
    join(&mut c, 0, a, "c1");
    join(&mut c, 0, b, "c2");
    join(&mut c, 0, d, "c3");
    join(&mut c, 0, req("none"), "c4");
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(secs(10)));
    // A late timer call fires every due room, earliest first.
    c.handle_timeout(secs(50));
    assert_eq!(
        shown(&mut c),
        ["left c2 #2 TimeLimit", "ended b TimeLimit", "left c1 #1 TimeLimit", "ended a TimeLimit"]
    );
    assert_eq!(c.poll_timeout(), Some(secs(100)));
    // A room that ends early drops its timer.
    assert!(c.leave(secs(60), &call("c3"), LeaveReason::CallHungUp));
    drain(&mut c);
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.list(ACCT), ["none"]);
}

#[test]
fn huge_time_limit_does_not_overflow() {
    let mut c = reg();
    let mut r = req("r");
    r.time_limit = Some(Duration::MAX);
    join(&mut c, 10, r, "c1");
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(shown(&mut c), ["join r c1 #1 started first"]);
}

// ---- mute / deaf / media / floor ----

#[test]
fn mute_and_deaf_emit_only_changes() {
    let mut c = reg();
    let mut m = req("r");
    m.muted = true;
    join(&mut c, 0, m, "c1");
    join(&mut c, 0, req("r"), "c2");
    join(&mut c, 0, req("r"), "c3");
    drain(&mut c);
    assert_eq!(c.set_muted(ACCT, "r", &MemberTarget::All, true), Ok(mids(&[1, 2, 3])));
    assert_eq!(shown(&mut c), ["muted #2 true", "muted #3 true"]);
    assert_eq!(c.set_muted(ACCT, "r", &ids(&[2]), false), Ok(mids(&[2])));
    assert_eq!(shown(&mut c), ["muted #2 false"]);
    assert_eq!(c.set_muted(ACCT, "r", &ids(&[2]), false), Ok(mids(&[2])));
    assert!(drain(&mut c).is_empty());
    assert_eq!(
        c.set_muted(ACCT, "r", &ids(&[2, 4]), true),
        Err(ConferenceError::MembersNotFound { room: "r".into(), ids: mids(&[4]) })
    );
    assert!(drain(&mut c).is_empty());

    assert_eq!(c.set_deaf(ACCT, "r", &ids(&[1, 3]), true), Ok(mids(&[1, 3])));
    assert_eq!(shown(&mut c), ["deaf #1 true", "deaf #3 true"]);
    assert_eq!(c.set_deaf(ACCT, "r", &MemberTarget::All, false), Ok(mids(&[1, 2, 3])));
    assert_eq!(shown(&mut c), ["deaf #1 false", "deaf #3 false"]);
    assert_eq!(c.set_deaf(ACCT, "x", &MemberTarget::All, false), Err(room_not_found("x")));

    let s = c.get(secs(0), ACCT, "r").unwrap();
    let state: Vec<(u32, bool, bool)> = s.members.iter().map(|m| (m.member_id.0, m.muted, m.deaf)).collect();
    assert_eq!(state, [(1, true, false), (2, false, false), (3, true, false)]);

    // Full event shape.
    c.set_muted(ACCT, "r", &ids(&[1]), false).unwrap();
    assert_eq!(
        drain(&mut c),
        vec![RoomEvent::Muted { call: call("c1"), room: "r".into(), member_id: MemberId(1), muted: false }]
    );
    c.set_deaf(ACCT, "r", &ids(&[2]), true).unwrap();
    assert_eq!(
        drain(&mut c),
        vec![RoomEvent::Deafened { call: call("c2"), room: "r".into(), member_id: MemberId(2), deaf: true }]
    );
}

#[test]
fn member_media_and_floor() {
    let mut c = reg();
    for who in ["c1", "c2", "c3"] {
        join(&mut c, 0, req("r"), who);
    }
    drain(&mut c);
    let play = MemberMedia::Play { url: "https://a.example/x.mp3".into() };
    assert_eq!(c.member_media(ACCT, "r", &ids(&[3, 1]), play.clone()), Ok(mids(&[1, 3])));
    assert_eq!(
        drain(&mut c),
        vec![RoomEvent::Media { room: "r".into(), members: mids(&[1, 3]), media: Box::new(play) }]
    );
    assert_eq!(c.member_media(ACCT, "r", &MemberTarget::All, MemberMedia::StopSpeak), Ok(mids(&[1, 2, 3])));
    assert_eq!(shown(&mut c), ["media [1, 2, 3]"]);
    assert_eq!(
        c.member_media(ACCT, "r", &ids(&[8]), MemberMedia::StopPlay),
        Err(ConferenceError::MembersNotFound { room: "r".into(), ids: mids(&[8]) })
    );
    assert_eq!(c.member_media(ACCT, "q", &ids(&[1]), MemberMedia::StopPlay), Err(room_not_found("q")));
    assert!(drain(&mut c).is_empty());

    assert_eq!(c.set_floor(ACCT, "r", MemberId(2)), Ok(()));
    assert_eq!(drain(&mut c), vec![RoomEvent::Floor { call: call("c2"), room: "r".into(), member_id: MemberId(2) }]);
    assert_eq!(
        c.set_floor(ACCT, "r", MemberId(9)),
        Err(ConferenceError::MembersNotFound { room: "r".into(), ids: mids(&[9]) })
    );
    assert_eq!(c.set_floor(ACCT, "q", MemberId(1)), Err(room_not_found("q")));
    assert!(drain(&mut c).is_empty());
}

// ---- end / end_all / list / get ----

#[test]
fn end_removes_everyone_with_room_ended() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    join(&mut c, 0, req("r"), "c2");
    join(&mut c, 0, req("keep"), "c3");
    drain(&mut c);
    assert_eq!(c.end(secs(3), ACCT, "r"), Ok(()));
    assert_eq!(shown(&mut c), ["left c1 #1 RoomEnded", "left c2 #2 RoomEnded", "ended r Api"]);
    assert_eq!(c.end(secs(3), ACCT, "r"), Err(room_not_found("r")));
    assert_eq!(c.list(ACCT), ["keep"]);
    assert_eq!(c.room_of(&call("c1")), None);
}

#[test]
fn end_all_ends_the_accounts_conferences_in_name_order() {
    let mut c = reg();
    join(&mut c, 0, req("zeta"), "c1");
    join(&mut c, 0, req("alpha"), "c2");
    join(&mut c, 0, req("mid"), "c3");
    let mut other = req("alpha");
    other.account = "MA2".into();
    join(&mut c, 0, other, "c4");
    let mut mpc = req("beta");
    mpc.kind = RoomKind::MultiParty;
    join(&mut c, 0, mpc, "c5");
    drain(&mut c);
    assert_eq!(c.list(ACCT), ["alpha", "mid", "zeta"]);
    assert_eq!(c.list("MA2"), ["alpha"]);
    assert!(c.list("MA3").is_empty());
    assert_eq!(c.end_all(secs(1), ACCT), ["alpha", "mid", "zeta"]);
    assert_eq!(
        shown(&mut c),
        [
            "left c2 #2 RoomEnded",
            "ended alpha Api",
            "left c3 #3 RoomEnded",
            "ended mid Api",
            "left c1 #1 RoomEnded",
            "ended zeta Api"
        ]
    );
    assert!(c.list(ACCT).is_empty());
    assert_eq!(c.len(), 2);
    assert!(c.end_all(secs(2), ACCT).is_empty());
    assert!(drain(&mut c).is_empty());
}

#[test]
fn get_snapshot_values() {
    let mut c = reg();
    let mut wait = req("r");
    wait.start_on_enter = false;
    join(&mut c, 100, wait, "c1");
    let mut second = req("r");
    second.muted = true;
    c.join(
        secs(130),
        second,
        MemberInfo {
            call: call("c2"),
            from: "1456789903".into(),
            to: "1677889900".into(),
            caller_name: "John".into(),
            direction: Direction::Outbound,
        },
    )
    .unwrap();
    c.set_deaf(ACCT, "r", &ids(&[1]), true).unwrap();
    let s = c.get(secs(190), ACCT, "r").unwrap();
    assert_eq!(
        s,
        RoomSnapshot {
            name: "r".into(),
            uuid: IdGen::new(1).uuid().into(),
            run_time: secs(90),
            started: true,
            members: vec![
                MemberSnapshot {
                    member_id: MemberId(1),
                    call: call("c1"),
                    muted: false,
                    deaf: true,
                    held: false,
                    from: "from-c1".into(),
                    to: "to-c1".into(),
                    caller_name: "name-c1".into(),
                    direction: Direction::Inbound,
                    joined_for: secs(90),
                },
                MemberSnapshot {
                    member_id: MemberId(2),
                    call: call("c2"),
                    muted: true,
                    deaf: false,
                    held: false,
                    from: "1456789903".into(),
                    to: "1677889900".into(),
                    caller_name: "John".into(),
                    direction: Direction::Outbound,
                    joined_for: secs(60),
                },
            ],
            recording: None,
        }
    );
    // A clock before the join does not underflow.
    assert_eq!(c.get(secs(0), ACCT, "r").unwrap().run_time, Duration::ZERO);
}

// ---- recording ----

#[test]
fn recording_starts_with_a_join_and_finishes_when_the_room_empties() {
    let mut c = reg();
    let mut r = req("r");
    r.record = Some(rec_spec(FileFormat::Wav));
    join(&mut c, 5, r.clone(), "c1");
    let mut g = IdGen::new(1);
    let room_uuid = g.uuid();
    let rec_id = g.uuid();
    let info = RecordingInfo {
        id: rec_id.clone().into(),
        url: format!("https://media.plivo-flow.invalid/recordings/{rec_id}.wav"),
        format: FileFormat::Wav,
        started_at: secs(5),
    };
    assert_eq!(
        drain(&mut c),
        vec![
            RoomEvent::Joined {
                call: call("c1"),
                room: "r".into(),
                uuid: room_uuid.clone().into(),
                member_id: MemberId(1),
                started: true,
                first: true,
                muted: false,
                held: false
            },
            RoomEvent::RecordingStarted {
                room: "r".into(),
                uuid: room_uuid.clone().into(),
                recording: Arc::new(info.clone())
            },
        ]
    );
    // A second recording member does not start another recording.
    join(&mut c, 6, r, "c2");
    assert_eq!(shown(&mut c), ["join r c2 #2 started"]);
    assert_eq!(c.get(secs(6), ACCT, "r").unwrap().recording, Some(info.clone()));

    assert!(c.leave(secs(7), &call("c1"), LeaveReason::CallHungUp));
    assert!(c.leave(secs(8), &call("c2"), LeaveReason::CallHungUp));
    assert_eq!(
        drain(&mut c),
        vec![
            RoomEvent::Left {
                call: call("c1"),
                room: "r".into(),
                uuid: room_uuid.clone().into(),
                member_id: MemberId(1),
                reason: LeaveReason::CallHungUp,
                last: false,
                recording: Some(Arc::new(info.clone()))
            },
            RoomEvent::Left {
                call: call("c2"),
                room: "r".into(),
                uuid: room_uuid.clone().into(),
                member_id: MemberId(2),
                reason: LeaveReason::CallHungUp,
                last: true,
                recording: Some(Arc::new(info.clone()))
            },
            RoomEvent::RecordingFinished {
                room: "r".into(),
                uuid: room_uuid.clone().into(),
                recording: Arc::new(info),
                ended_at: secs(8),
                callback: rec_spec(FileFormat::Wav).callback,
            },
            RoomEvent::Ended {
                account: ACCT.into(),
                room: "r".into(),
                uuid: room_uuid.into(),
                reason: EndReason::Empty
            },
        ]
    );
    assert_no_state(&c);
}

#[test]
fn rest_start_and_stop_recording() {
    let mut c = reg();
    join(&mut c, 0, req("r"), "c1");
    drain(&mut c);
    assert_eq!(c.stop_recording(secs(1), ACCT, "r"), Ok(None));
    assert_eq!(c.stop_recording(secs(1), ACCT, "x"), Err(room_not_found("x")));
    assert_eq!(c.start_recording(secs(1), ACCT, "x", rec_spec(FileFormat::Mp3)), Err(room_not_found("x")));
    assert!(drain(&mut c).is_empty());

    let spec = RecordSpec { format: FileFormat::Mp3, callback: None };
    let info = c.start_recording(secs(2), ACCT, "r", spec.clone()).unwrap();
    assert!(info.url.ends_with(&format!("/{}.mp3", info.id)));
    assert_eq!(info.started_at, secs(2));
    assert_eq!(shown(&mut c), ["rec-start r"]);
    // Already running: returned unchanged, no event, no new id.
    let again = c.start_recording(secs(3), ACCT, "r", rec_spec(FileFormat::Wav)).unwrap();
    assert_eq!(again, info);
    assert!(drain(&mut c).is_empty());

    // A member joining with `record` does not start another.
    let mut r = req("r");
    r.record = Some(rec_spec(FileFormat::Wav));
    join(&mut c, 3, r, "c2");
    assert_eq!(shown(&mut c), ["join r c2 #2 started"]);

    assert_eq!(c.stop_recording(secs(4), ACCT, "r"), Ok(Some(info.clone())));
    let uuid = c.get(secs(4), ACCT, "r").unwrap().uuid;
    assert_eq!(
        drain(&mut c),
        vec![RoomEvent::RecordingFinished {
            room: "r".into(),
            uuid,
            recording: Arc::new(info.clone()),
            ended_at: secs(4),
            callback: None
        }]
    );
    assert_eq!(c.stop_recording(secs(5), ACCT, "r"), Ok(None));
    // Leaving now carries no recording.
    assert!(c.leave(secs(6), &call("c2"), LeaveReason::HangupOnStar));
    assert_eq!(shown(&mut c), ["left c2 #2 HangupOnStar"]);

    // A new recording gets a new id.
    let second = c.start_recording(secs(7), ACCT, "r", spec).unwrap();
    assert_ne!(second.id, info.id);
    drain(&mut c);
    // Ending the room finishes it before Ended.
    c.end(secs(9), ACCT, "r").unwrap();
    assert_eq!(shown(&mut c), ["left c1 #1 RoomEnded rec", "rec-finish r at=9", "ended r Api"]);
}

#[test]
fn recording_url_base_trailing_slash() {
    let mut c = Conferences::new(RoomsConfig { seed: 3, recording_url_base: "http://m.example/rec/".into() });
    join(&mut c, 0, req("r"), "c1");
    let info = c.start_recording(secs(0), ACCT, "r", rec_spec(FileFormat::Mp3)).unwrap();
    assert_eq!(info.url, format!("http://m.example/rec/{}.mp3", info.id));
}

#[test]
fn recording_finishes_on_every_kind_of_end() {
    let mut c = reg();
    let mut r = req("t");
    r.time_limit = Some(secs(10));
    r.record = Some(rec_spec(FileFormat::Mp3));
    join(&mut c, 0, r, "c1");
    drain(&mut c);
    c.handle_timeout(secs(10));
    assert_eq!(shown(&mut c), ["left c1 #1 TimeLimit rec", "rec-finish t at=10", "ended t TimeLimit"]);

    let mut host = req("e");
    host.end_on_exit = true;
    host.record = Some(rec_spec(FileFormat::Mp3));
    join(&mut c, 20, host, "c2");
    join(&mut c, 20, req("e"), "c3");
    drain(&mut c);
    c.kick(secs(21), ACCT, "e", &ids(&[2])).unwrap();
    assert_eq!(
        shown(&mut c),
        ["left c2 #2 Kicked rec", "left c3 #3 RoomEnded rec", "rec-finish e at=21", "ended e EndOnExit"]
    );
}

// ---- invariants and scale ----

#[test]
fn every_joined_member_gets_exactly_one_left() {
    let mut c = reg();
    let mut all_events = Vec::new();
    let mut host = req("a");
    host.end_on_exit = true;
    let mut lonely = req("b");
    lonely.stay_alone = false;
    let mut timed = req("c");
    timed.time_limit = Some(secs(50));
    let mut waiting = req("d");
    waiting.start_on_enter = false;
    let mut small = req("e");
    small.max_members = 2;

    for i in 0..10 {
        join(&mut c, i, req("a"), &format!("a{i}"));
        join(&mut c, i, lonely.clone(), &format!("b{i}"));
        join(&mut c, i, timed.clone(), &format!("c{i}"));
        join(&mut c, i, waiting.clone(), &format!("d{i}"));
        join(&mut c, i, small.clone(), &format!("e{i}"));
    }
    join(&mut c, 10, host, "ahost");
    all_events.extend(drain(&mut c));

    c.kick(secs(11), ACCT, "a", &"1,6,11".parse().unwrap()).unwrap();
    c.leave(secs(12), &call("ahost"), LeaveReason::HangupOnStar);
    c.set_muted(ACCT, "b", &MemberTarget::All, true).unwrap();
    c.hangup_members(secs(13), ACCT, "b", &"2,7".parse().unwrap()).unwrap();
    for i in 0..9 {
        c.leave(secs(14), &call(&format!("b{i}")), LeaveReason::CallHungUp);
    }
    c.start_recording(secs(15), ACCT, "c", rec_spec(FileFormat::Mp3)).unwrap();
    c.kick(secs(16), ACCT, "d", &"4".parse().unwrap()).unwrap();
    c.end(secs(17), ACCT, "d").unwrap();
    c.handle_timeout(secs(60));
    c.leave(secs(61), &call("e0"), LeaveReason::CallHungUp);
    c.end_all(secs(62), ACCT);
    all_events.extend(drain(&mut c));
    assert_no_state(&c);

    let mut joined = std::collections::BTreeMap::new();
    let mut left = std::collections::BTreeMap::new();
    let mut ended = 0;
    let mut refused = 0;
    for e in &all_events {
        match e {
            RoomEvent::Joined { member_id, .. } => *joined.entry(*member_id).or_insert(0) += 1,
            RoomEvent::Left { member_id, .. } => {
                assert!(joined.contains_key(member_id), "Left before Joined for #{member_id}");
                *left.entry(*member_id).or_insert(0) += 1
            }
            RoomEvent::Ended { .. } => ended += 1,
            RoomEvent::Refused { .. } => refused += 1,
            _ => {}
        }
    }
    assert_eq!(refused, 8);
    assert_eq!(joined.len(), 43);
    assert!(joined.values().all(|&n| n == 1));
    assert_eq!(joined, left);
    assert_eq!(ended, 5);
    // Every room's Ended comes after all of its members' Left.
    for (i, e) in all_events.iter().enumerate() {
        if let RoomEvent::Left { uuid, .. } = e {
            assert!(!all_events[..i].iter().any(|p| matches!(p, RoomEvent::Ended { uuid: u, .. } if u == uuid)));
        }
    }
}

#[test]
fn kick_all_of_ten_thousand_members() {
    let mut c = reg();
    let mut big = req("big");
    big.max_members = u32::MAX;
    for i in 0..10_000 {
        join(&mut c, 0, big.clone(), &format!("c{i}"));
    }
    let joins = drain(&mut c);
    assert_eq!(joins.len(), 10_000);
    assert_eq!(c.member_count(ACCT, RoomKind::Conference, "big"), Some(10_000));
    let kicked = c.kick(secs(1), ACCT, "big", &MemberTarget::All).unwrap();
    assert_eq!(kicked, (1..=10_000).map(MemberId).collect::<Vec<_>>());
    let ev = drain(&mut c);
    assert_eq!(ev.len(), 10_001);
    assert!(ev[..10_000].iter().enumerate().all(|(i, e)| matches!(
        e,
        RoomEvent::Left { member_id, reason: LeaveReason::Kicked, .. } if member_id.0 as usize == i + 1
    )));
    assert!(matches!(ev[10_000], RoomEvent::Ended { reason: EndReason::Empty, .. }));
    assert_no_state(&c);
    assert_eq!(c.room_of(&call("c0")), None);
    assert_eq!(c.room_of(&call("c9999")), None);
}

#[test]
fn end_on_exit_with_ten_thousand_members() {
    let mut c = reg();
    let mut host = req("big");
    host.end_on_exit = true;
    host.max_members = u32::MAX;
    join(&mut c, 0, host, "host");
    for i in 0..10_000 {
        join(&mut c, 0, req("big"), &format!("c{i}"));
    }
    drain(&mut c);
    assert!(c.leave(secs(1), &call("host"), LeaveReason::CallHungUp));
    let ev = drain(&mut c);
    assert_eq!(ev.len(), 10_002);
    assert_no_state(&c);
}

#[test]
fn mpc_hold_marks_participants_held_muted_and_deaf_and_unhold_restores_their_own_flags() {
    let mut c = reg();
    let mpc = |name: &str| JoinRequest { kind: RoomKind::MultiParty, ..req(name) };
    join(&mut c, 0, mpc("m"), "c1");
    join(&mut c, 0, JoinRequest { muted: true, ..mpc("m") }, "c2");
    join(&mut c, 0, JoinRequest { hold: true, ..mpc("m") }, "c3");
    drain(&mut c);
    let state = |c: &Conferences| -> Vec<(u32, bool, bool, bool)> {
        let s = c.get_multi_party(secs(0), ACCT, "m").unwrap();
        s.members.iter().map(|m| (m.member_id.0, m.held, m.muted, m.deaf)).collect()
    };
    // hold="true" joins held: not heard, not hearing.
    assert_eq!(state(&c), [(1, false, false, false), (2, false, true, false), (3, true, true, true)]);

    assert_eq!(c.set_hold(ACCT, "m", &MemberTarget::All, true), Ok(mids(&[1, 2, 3])));
    // Only the ones that changed get an event, by ascending id.
    assert_eq!(shown(&mut c), ["held c1 #1 true", "held c2 #2 true"]);
    assert_eq!(c.set_hold(ACCT, "m", &ids(&[2]), false), Ok(mids(&[2])));
    assert_eq!(
        drain(&mut c),
        vec![RoomEvent::Held { call: call("c2"), room: "m".into(), member_id: MemberId(2), held: false }]
    );
    // Member 2 is still muted (its own flag), no longer held or deaf.
    assert_eq!(state(&c), [(1, true, true, true), (2, false, true, false), (3, true, true, true)]);

    // Unknown members: an error naming them, nothing changes.
    assert_eq!(
        c.set_hold(ACCT, "m", &ids(&[1, 9]), false),
        Err(ConferenceError::MembersNotFound { room: "m".into(), ids: mids(&[9]) })
    );
    assert!(drain(&mut c).is_empty());
    assert_eq!(state(&c)[0], (1, true, true, true));
    // Unknown MPC, and a Conference of that name is not an MPC.
    join(&mut c, 0, req("conf"), "c9");
    drain(&mut c);
    for name in ["x", "conf"] {
        assert_eq!(
            c.set_hold(ACCT, name, &MemberTarget::All, true),
            Err(ConferenceError::MultiPartyCallNotFound { name: name.into() })
        );
    }
    assert!(drain(&mut c).is_empty());
    // A held member leaving gets its one Left, like any other.
    assert!(c.leave(secs(1), &call("c1"), LeaveReason::CallHungUp));
    assert_eq!(shown(&mut c), ["left c1 #1 CallHungUp"]);
}

#[test]
fn a_large_room_ending_leaves_the_other_rooms_members_indexed() {
    // 100 members in "big": at least a quarter of the member index's capacity, so its end
    // sweeps the index in one pass, which must keep the other rooms' members. "small" (49
    // members when it ends, under the sweep's minimum) then leaves it one member at a time.
    let mut c = reg();
    let big = JoinRequest { max_members: u32::MAX, ..req("big") };
    for i in 0..100 {
        join(&mut c, 0, big.clone(), &format!("b{i}"));
    }
    let small = JoinRequest { max_members: u32::MAX, ..req("small") };
    for i in 0..50 {
        join(&mut c, 0, small.clone(), &format!("s{i}"));
    }
    join(&mut c, 0, req("third"), "t0");
    drain(&mut c);
    assert_eq!(c.kick(secs(1), ACCT, "big", &MemberTarget::All).map(|k| k.len()), Ok(100));
    let ev = drain(&mut c);
    assert_eq!(ev.iter().filter(|e| matches!(e, RoomEvent::Left { .. })).count(), 100);
    for i in 0..100 {
        assert_eq!(c.room_of(&call(&format!("b{i}"))), None);
    }
    for i in 0..50 {
        let who = call(&format!("s{i}"));
        assert_eq!(c.room_of(&who).map(|(_, room, _)| room.to_owned()), Some("small".to_owned()));
    }
    assert!(c.leave(secs(2), &call("s0"), LeaveReason::CallHungUp));
    assert_eq!(c.kick(secs(3), ACCT, "small", &MemberTarget::All).map(|k| k.len()), Ok(49));
    drain(&mut c);
    assert_eq!(c.room_of(&call("t0")).map(|(_, room, _)| room.to_owned()), Some("third".to_owned()));
    assert!(c.leave(secs(4), &call("t0"), LeaveReason::CallHungUp));
    drain(&mut c);
    assert_no_state(&c);
}
