# A snapshot of the engine's state after the event at `revision`: what `evolve` folded
# from events 1..revision, so that opening (and replay to a past seq) need not fold the
# whole log. Stored packed in the `snapshots` family under the revision's seq.
#
# A snapshot is a cache, never a source of truth: it can always be rebuilt from the
# events, and verify compares the two. Same evolution rules as events.capnp.

@0x92dc9f084e9a0520;

using Cxx = import "/capnp/c++.capnp";
using Events = import "/schema/events.capnp";
$Cxx.namespace("authledger::schema");

struct SnapshotOrganization {
  id @0 :Text;
  name @1 :Text;
  policy @2 :Events.AuthenticationPolicy;
  allowlistVersion @3 :UInt64;
  allowlistEnabled @4 :Bool;
  allowlistCidrs @5 :List(Text);
  domains @6 :List(Text);
  idps @7 :List(Text);           # owned and not removed
  members @8 :List(Text);
  applicationUsers @9 :List(Text);
}

struct SnapshotIdp {
  id @0 :Text;
  orgId @1 :Text;
  domains @2 :List(Text);
  maxAgeSeconds @3 :UInt32;
  extendWhenUsed @4 :Bool;
  removed @5 :Bool;
}

struct SnapshotUser {
  id @0 :Text;
  email @1 :Text;
  active @2 :Bool;
  twoFactorEnabled @3 :Bool;
  application @4 :Bool;
  deleted @5 :Bool;
  applicationOrg @6 :Text;
  tokenValidityBeginUs @7 :Int64;
  tokenValidityBeginSeq @8 :UInt64;
  orgs @9 :List(Text);
}

struct SnapshotToken {
  prefix @0 :Text;
  secretHash @1 :Data;
  kind @2 :Events.TokenKind;
  owner @3 :Text;
  orgId @4 :Text;
  method @5 :Text;
  sessionPrefix @6 :Text;
  twoFactorUsed @7 :Bool;
  createdUs @8 :Int64;
  expiryTimeUs @9 :Int64;
  maxAgeSeconds @10 :UInt32;
  extendWhenUsed @11 :Bool;
  ipAllowlist @12 :List(Text);
  scopes @13 :List(Text);
  lastUsedUs @14 :Int64;
  lastIp @15 :Text;
  revoked @16 :Bool;
  revokedSeq @17 :UInt64;
  createdSeq @18 :UInt64;
}

struct Snapshot {
  formatVersion @0 :UInt32;      # 1
  revision @1 :UInt64;           # seq of the last event folded in
  lastTimeUs @2 :Int64;
  organizations @3 :List(SnapshotOrganization);
  idps @4 :List(SnapshotIdp);
  users @5 :List(SnapshotUser);
  tokens @6 :List(SnapshotToken);  # in creation order (created_seq)
}
