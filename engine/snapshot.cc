#include "engine/snapshot.h"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>

#include <algorithm>

#include "engine/decide_util.h"
#include "schema/snapshot.capnp.h"

namespace authledger::internal {

namespace {

constexpr std::uint32_t kSnapshotFormat = 1;

template <typename Container>
void PutList(capnp::List<capnp::Text>::Builder list, const Container& items) {
  unsigned i = 0;
  for (const auto& item : items) list.set(i++, CapText(item));
}

std::string Str(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

template <typename Out>
void GetList(capnp::List<capnp::Text>::Reader list, Out& out) {
  for (auto t : list) out.insert(out.end(), Str(t));
}

std::vector<Cidr> Ranges(const std::vector<std::string>& cidrs) {
  std::vector<Cidr> out;
  for (const auto& c : cidrs) {
    auto r = ParseCidr(c);
    if (r.ok()) out.push_back(*r);
  }
  return out;
}

class VectorOutput : public kj::OutputStream {
 public:
  explicit VectorOutput(std::string* out) : out_(out) {}
  void write(const void* buffer, size_t size) override {
    out_->append(static_cast<const char*>(buffer), size);
  }

 private:
  std::string* out_;
};

}  // namespace

std::string EncodeSnapshot(const State& s) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Snapshot>();
  root.setFormatVersion(kSnapshotFormat);
  root.setRevision(s.revision);
  root.setLastTimeUs(s.last_time_us);

  auto orgs = root.initOrganizations(static_cast<unsigned>(s.orgs.size()));
  unsigned i = 0;
  for (const auto& [id, o] : s.orgs) {
    auto b = orgs[i++];
    b.setId(CapText(o.id));
    b.setName(CapText(o.name));
    PolicyToSchema(o.policy, b.initPolicy());
    b.setAllowlistVersion(o.allowlist.version);
    b.setAllowlistEnabled(o.allowlist.enabled);
    PutList(b.initAllowlistCidrs(static_cast<unsigned>(o.allowlist.cidrs.size())),
            o.allowlist.cidrs);
    PutList(b.initDomains(static_cast<unsigned>(o.domains.size())), o.domains);
    PutList(b.initIdps(static_cast<unsigned>(o.idps.size())), o.idps);
    PutList(b.initMembers(static_cast<unsigned>(o.members.size())), o.members);
    PutList(b.initApplicationUsers(static_cast<unsigned>(o.application_users.size())),
            o.application_users);
  }
  auto idps = root.initIdps(static_cast<unsigned>(s.idps.size()));
  i = 0;
  for (const auto& [id, p] : s.idps) {
    auto b = idps[i++];
    b.setId(CapText(p.id));
    b.setOrgId(CapText(p.org_id));
    PutList(b.initDomains(static_cast<unsigned>(p.domains.size())), p.domains);
    b.setMaxAgeSeconds(p.max_age_seconds);
    b.setExtendWhenUsed(p.extend_when_used);
    b.setRemoved(p.removed);
  }
  auto users = root.initUsers(static_cast<unsigned>(s.users.size()));
  i = 0;
  for (const auto& [id, u] : s.users) {
    auto b = users[i++];
    b.setId(CapText(u.id));
    b.setEmail(CapText(u.email));
    b.setActive(u.active);
    b.setTwoFactorEnabled(u.two_factor_enabled);
    b.setApplication(u.application);
    b.setDeleted(u.deleted);
    b.setApplicationOrg(CapText(u.application_org));
    b.setTokenValidityBeginUs(u.token_validity_begin_us);
    b.setTokenValidityBeginSeq(u.token_validity_begin_seq);
    PutList(b.initOrgs(static_cast<unsigned>(u.orgs.size())), u.orgs);
  }
  // Tokens in creation order, so tokens_by_owner is rebuilt in the same order.
  std::vector<const Token*> tokens;
  tokens.reserve(s.tokens.size());
  for (const auto& [prefix, t] : s.tokens) tokens.push_back(&t);
  std::sort(tokens.begin(), tokens.end(), [](const Token* a, const Token* b) {
    return a->created_seq != b->created_seq ? a->created_seq < b->created_seq
                                            : a->prefix < b->prefix;
  });
  auto list = root.initTokens(static_cast<unsigned>(tokens.size()));
  i = 0;
  for (const Token* t : tokens) {
    auto b = list[i++];
    b.setPrefix(CapText(t->prefix));
    b.setSecretHash(capnp::Data::Reader(t->secret_hash.data(), t->secret_hash.size()));
    b.setKind(static_cast<schema::TokenKind>(t->kind));
    b.setOwner(CapText(t->owner));
    b.setOrgId(CapText(t->org_id));
    b.setMethod(CapText(t->method));
    b.setSessionPrefix(CapText(t->session_prefix));
    b.setTwoFactorUsed(t->two_factor_used);
    b.setCreatedUs(t->created_us);
    b.setExpiryTimeUs(t->expiry_time_us);
    b.setMaxAgeSeconds(t->max_age_seconds);
    b.setExtendWhenUsed(t->extend_when_used);
    auto ips = b.initIpAllowlist(static_cast<unsigned>(t->ip_allowlist.size()));
    for (unsigned k = 0; k < ips.size(); ++k) ips.set(k, CapText(t->ip_allowlist[k].ToString()));
    PutList(b.initScopes(static_cast<unsigned>(t->scopes.size())), t->scopes);
    b.setLastUsedUs(t->last_used_us);
    b.setLastIp(CapText(t->last_ip));
    b.setRevoked(t->revoked);
    b.setRevokedSeq(t->revoked_seq);
    b.setCreatedSeq(t->created_seq);
  }
  std::string out;
  VectorOutput stream(&out);
  capnp::writePackedMessage(stream, message);
  return out;
}

Result<State> DecodeSnapshot(std::string_view bytes) {
  State s;
  try {
    kj::ArrayInputStream input(kj::ArrayPtr<const kj::byte>(
        reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
    capnp::ReaderOptions options;
    options.traversalLimitInWords = ~static_cast<std::uint64_t>(0) >> 4;
    capnp::PackedMessageReader message(input, options);
    auto root = message.getRoot<schema::Snapshot>();
    if (root.getFormatVersion() != kSnapshotFormat) {
      return Status::Corruption("snapshot_undecodable",
                                "snapshot format " + std::to_string(root.getFormatVersion()) +
                                    " is not one this build reads");
    }
    s.revision = root.getRevision();
    s.last_time_us = root.getLastTimeUs();
    for (auto b : root.getOrganizations()) {
      Organization& o = s.orgs[Str(b.getId())];
      o.id = Str(b.getId());
      o.name = Str(b.getName());
      o.policy = PolicyFromSchema(b.getPolicy());
      o.allowlist.version = b.getAllowlistVersion();
      o.allowlist.enabled = b.getAllowlistEnabled();
      GetList(b.getAllowlistCidrs(), o.allowlist.cidrs);
      o.allowlist_ranges = Ranges(o.allowlist.cidrs);
      GetList(b.getDomains(), o.domains);
      GetList(b.getIdps(), o.idps);
      GetList(b.getMembers(), o.members);
      GetList(b.getApplicationUsers(), o.application_users);
      for (const auto& d : o.domains) s.domain_owner[d] = o.id;
    }
    for (auto b : root.getIdps()) {
      IdentityProvider& p = s.idps[Str(b.getId())];
      p.id = Str(b.getId());
      p.org_id = Str(b.getOrgId());
      GetList(b.getDomains(), p.domains);
      p.max_age_seconds = b.getMaxAgeSeconds();
      p.extend_when_used = b.getExtendWhenUsed();
      p.removed = b.getRemoved();
    }
    for (auto b : root.getUsers()) {
      User& u = s.users[Str(b.getId())];
      u.id = Str(b.getId());
      u.email = Str(b.getEmail());
      u.active = b.getActive();
      u.two_factor_enabled = b.getTwoFactorEnabled();
      u.application = b.getApplication();
      u.deleted = b.getDeleted();
      u.application_org = Str(b.getApplicationOrg());
      u.token_validity_begin_us = b.getTokenValidityBeginUs();
      u.token_validity_begin_seq = b.getTokenValidityBeginSeq();
      GetList(b.getOrgs(), u.orgs);
    }
    s.tokens.reserve(root.getTokens().size());
    for (auto b : root.getTokens()) {
      Token t;
      t.prefix = Str(b.getPrefix());
      auto hash = b.getSecretHash();
      if (hash.size() != t.secret_hash.size()) {
        return Status::Corruption("snapshot_undecodable",
                                  "a token's secret hash has the wrong size");
      }
      std::copy(hash.begin(), hash.end(), t.secret_hash.begin());
      t.kind = static_cast<TokenKind>(b.getKind());
      t.owner = Str(b.getOwner());
      t.org_id = Str(b.getOrgId());
      t.method = Str(b.getMethod());
      t.session_prefix = Str(b.getSessionPrefix());
      t.two_factor_used = b.getTwoFactorUsed();
      t.created_us = b.getCreatedUs();
      t.expiry_time_us = b.getExpiryTimeUs();
      t.max_age_seconds = b.getMaxAgeSeconds();
      t.extend_when_used = b.getExtendWhenUsed();
      std::vector<std::string> ips;
      GetList(b.getIpAllowlist(), ips);
      t.ip_allowlist = Ranges(ips);
      GetList(b.getScopes(), t.scopes);
      t.last_used_us = b.getLastUsedUs();
      t.last_ip = Str(b.getLastIp());
      t.revoked = b.getRevoked();
      t.revoked_seq = b.getRevokedSeq();
      t.created_seq = b.getCreatedSeq();
      s.token_by_secret[t.secret_hash] = t.prefix;
      s.tokens_by_owner[t.owner].push_back(t.prefix);
      s.tokens[t.prefix] = std::move(t);
    }
  } catch (const kj::Exception& e) {
    return Status::Corruption("snapshot_undecodable", std::string("snapshot does not decode: ") +
                                                          e.getDescription().cStr());
  }
  return s;
}

}  // namespace authledger::internal
