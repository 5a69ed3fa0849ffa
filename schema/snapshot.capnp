# A snapshot of the engine's state after the event at `revision`: what `evolve` folded
# from events 1..revision, so that opening (and replay to a past seq) need not fold the
# whole log.
#
# Since format 3 a snapshot is stored in parts (EventLog::PutSnapshotChunks, then
# PutSnapshot): this header, packed, under the revision's seq, holding everything but
# the token records; and the token records as their raw little-endian in-memory bytes
# (engine/token_table.h: TokenRecord), `chunkRecords` per chunk, in `chunkCount` chunks
# stored beside it. Raw records load by memcpy, chunk by chunk on several threads; the
# header says which record layout wrote them, and a reader of another layout refuses them.
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
  idps @7 :List(Text);              # owned and not removed
  members @8 :List(UInt32);         # indexes into Snapshot.users
  applicationUsers @9 :List(UInt32);
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
  applicationOrg @6 :UInt32;        # index into Snapshot.organizations; 0xffffffff = none
  tokenValidityBeginUs @7 :Int64;
  tokenValidityBeginSeq @8 :UInt64;
  orgs @9 :List(UInt32);            # sorted indexes into Snapshot.organizations
}

struct SnapshotTokens {
  # Formats 1 and 2 only (format 3 stores token records in chunks, see above).
  # The token table as parallel columns, one entry per token in creation order (the
  # order of the engine's table), so that loading millions of tokens is a few tight
  # loops rather than millions of small structs.
  prefixes @0 :List(Text);
  secretHashes @1 :Data;            # 32 bytes per token, concatenated
  kinds @2 :List(Events.TokenKind);
  flags @3 :List(UInt8);            # bit 0 two_factor_used, 1 extend_when_used, 2 revoked
  createdUs @4 :List(Int64);
  expiryTimeUs @5 :List(Int64);
  lastUsedUs @6 :List(Int64);
  createdSeq @7 :List(UInt64);
  owners @8 :List(UInt32);          # indexes into Snapshot.users
  orgs @9 :List(UInt32);            # application tokens; 0xffffffff = none
  methods @10 :List(UInt32);        # indexes into Snapshot.methods
  ipAllowlists @11 :List(UInt32);   # indexes into Snapshot.ipLists; 0 = any address
  maxAgeSeconds @12 :List(UInt32);
}

struct SnapshotIpList {
  cidrs @0 :List(Text);
}

struct Snapshot {
  formatVersion @0 :UInt32;         # 3; a reader ignores a snapshot of any other format
  revision @1 :UInt64;              # seq of the last event folded in
  lastTimeUs @2 :Int64;
  organizations @3 :List(SnapshotOrganization);
  idps @4 :List(SnapshotIdp);
  users @5 :List(SnapshotUser);
  tokens @6 :SnapshotTokens;        # formats 1 and 2; empty since format 3
  methods @7 :List(Text);
  ipLists @8 :List(SnapshotIpList); # list 0 is the empty list

  # Format 3: the token records, in creation order (the order of the engine's table).
  tokenCount @9 :UInt64;
  chunkRecords @10 :UInt32;         # records per chunk; the last chunk may hold fewer
  chunkCount @11 :UInt32;           # ceil(tokenCount / chunkRecords), numbered from 0
  recordSize @12 :UInt32;           # sizeof(TokenRecord) of the writer
  recordLayout @13 :UInt32;         # the writer's TokenRecord layout version

  # The log's Merkle root over events 1..revision when the snapshot was written (empty
  # in snapshots written before it was recorded). Opening refuses a snapshot whose root
  # is not the log's at its seq: it was made from another history.
  logRoot @14 :Data;
}
