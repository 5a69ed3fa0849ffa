#include "tools/bench/bench_support.h"

#include <kj/exception.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <semaphore>
#include <string>
#include <thread>

namespace authledger::bench {
namespace {

constexpr std::uint64_t kUsers = 100000;
constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

std::int64_t WallClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The splitmix64 finalizer.
std::uint64_t Mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

capnp::Text::Reader TextOf(const char* buffer, int length) {
  return {buffer, static_cast<std::size_t>(length)};
}

}  // namespace

std::uint64_t SplitMix::Next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return Mix(state_);
}

storage::EventDraft EventFactory::Make() {
  storage::EventDraft draft;
  auto envelope = draft.envelope();
  const std::uint64_t user = Next() % kUsers;
  char user_id[24];
  const int user_len = std::snprintf(user_id, sizeof(user_id), "usr_%012" PRIx64,
                                     Mix(user) & std::uint64_t{0xffffffffffff});

  auto actor = envelope.initActor();
  actor.setKind(schema::Actor::Kind::USER);
  actor.setId(TextOf(user_id, user_len));
  char ip[24];
  const std::uint64_t r = Next();
  const int ip_len =
      std::snprintf(ip, sizeof(ip), "198.51.%u.%u", static_cast<unsigned>(r & 0xff) % 250,
                    static_cast<unsigned>((r >> 8) & 0xff) % 250 + 1);
  actor.setIp(TextOf(ip, ip_len));
  char request_id[24];
  const int request_len = std::snprintf(request_id, sizeof(request_id), "req-%016" PRIx64, Next());
  actor.setRequestId(TextOf(request_id, request_len));

  auto token = envelope.getEvent().initTokenCreated();
  char prefix[24] = "alt_";
  std::uint64_t bits = Next();
  for (int i = 4; i < 20; ++i) {
    prefix[i] = kBase62[bits % 62];
    bits /= 62;
    if (bits == 0) bits = Next();
  }
  prefix[20] = '\0';
  token.setTokenPrefix(TextOf(prefix, 20));
  std::array<std::uint64_t, 4> secret_hash = {Next(), Next(), Next(), Next()};
  token.setSecretHash(
      capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(secret_hash.data()), 32));
  token.setKind(schema::TokenKind::PERSONAL);
  token.setOwnerUserId(TextOf(user_id, user_len));
  token.setMethod("password");
  token.setTwoFactorUsed((made_ % 3) == 0);
  char description[48];
  const int description_len =
      std::snprintf(description, sizeof(description), "deploy token for ci pipeline build-%05u",
                    static_cast<unsigned>(made_ % 100000));
  token.setDescription(TextOf(description, description_len));
  token.setMaxAgeSeconds(30 * 86400);
  token.setExtendWhenUsed(true);
  ++made_;
  return draft;
}

std::vector<storage::EventDraft> EventFactory::MakeBatch(std::size_t count) {
  std::vector<storage::EventDraft> batch;
  batch.reserve(count);
  for (std::size_t i = 0; i < count; ++i) batch.push_back(Make());
  return batch;
}

Admission::Admission(storage::EventLog& log, Mode mode)
    : log_(log), mode_(mode), last_time_us_(std::max(log.last_time_us(), WallClockUs())) {}

Result<storage::PendingAppend> Admission::Enqueue(std::vector<storage::EventDraft> batch,
                                                  storage::EventLog::DurableCallback on_durable) {
  if (mode_ == Mode::kConcurrent) {
    // last_time_us_ is never written in this mode, so reading it unlocked is safe.
    for (auto& draft : batch) draft.envelope().setTimeUs(last_time_us_);
    return log_.Enqueue(std::move(batch), std::move(on_durable));
  }
  std::lock_guard lock(mu_);
  last_time_us_ = std::max(last_time_us_, WallClockUs());
  for (auto& draft : batch) draft.envelope().setTimeUs(last_time_us_);
  return log_.Enqueue(std::move(batch), std::move(on_durable));
}

void GroupCounter::Observe() {
  const std::uint64_t size = log_.size();
  if (size != last_size_) {
    sizes_.push_back(size - last_size_);
    last_size_ = size;
  }
}

std::uint64_t GroupCounter::SizePercentile(double p) const {
  if (sizes_.empty()) return 0;
  std::vector<std::uint64_t> sorted = sizes_;
  std::sort(sorted.begin(), sorted.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  return sorted[std::clamp<std::size_t>(static_cast<std::size_t>(rank), 1, sorted.size()) - 1];
}

void LatencySample::Merge(const LatencySample& other) {
  nanos_.insert(nanos_.end(), other.nanos_.begin(), other.nanos_.end());
}

void LatencySample::Finish() { std::sort(nanos_.begin(), nanos_.end()); }

double LatencySample::PercentileUs(double p) const {
  if (nanos_.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(nanos_.size()));
  const std::size_t index =
      std::clamp<std::size_t>(static_cast<std::size_t>(rank), 1, nanos_.size()) - 1;
  return static_cast<double>(nanos_[index]) / 1000.0;
}

double LatencySample::MaxUs() const {
  return nanos_.empty() ? 0 : static_cast<double>(nanos_.back()) / 1000.0;
}

Result<FillResult> BulkFill(storage::EventLog& log, Admission& admission, std::uint64_t events,
                            std::size_t batch, unsigned threads) {
  const std::uint64_t batches = (events + batch - 1) / batch;
  const std::uint64_t target = log.size() + events;
  // Two batches per thread may be queued or being written; each durable one frees a
  // place. A failed group fails its batches without calling back, so waiting for a place
  // also watches the log's health.
  const std::ptrdiff_t places = 2 * static_cast<std::ptrdiff_t>(threads);
  std::counting_semaphore<> free_places(places);
  auto take_place = [&]() -> Status {
    while (!free_places.try_acquire_for(std::chrono::milliseconds(100))) {
      if (Status health = log.health(); !health.ok()) return health;
    }
    return Status::Ok();
  };
  std::atomic<std::uint64_t> next_batch{0};
  std::mutex error_mu;
  Status error;
  auto record = [&](const Status& s) {
    std::lock_guard lock(error_mu);
    if (error.ok()) error = s;
  };
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      EventFactory factory(1000 + t + log.next_seq());
      for (;;) {
        const std::uint64_t b = next_batch.fetch_add(1);
        if (b >= batches) return;
        const std::uint64_t count = std::min<std::uint64_t>(batch, events - b * batch);
        auto drafts = factory.MakeBatch(count);
        if (Status s = take_place(); !s.ok()) {
          record(s);
          return;
        }
        auto pending = admission.Enqueue(std::move(drafts),
                                         [&free_places](const auto&...) { free_places.release(); });
        if (!pending.ok()) {
          record(pending.status());
          return;
        }
        // Dropping the PendingAppend encodes the batch here and hands it to the writer;
        // its durability is seen through the callback.
      }
    });
  }
  for (auto& worker : workers) worker.join();
  for (std::ptrdiff_t i = 0; i < places && error.ok(); ++i) {
    if (Status s = take_place(); !s.ok()) record(s);
  }
  if (!error.ok()) return error;
  if (log.size() < target) {
    return Status::Corruption("fill_short", "the log holds " + std::to_string(log.size()) +
                                                " events, expected " + std::to_string(target));
  }
  return FillResult{events, SecondsSince(start)};
}

Result<Flags> Flags::Parse(int argc, char** argv, const std::set<std::string>& switches) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      flags.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    if (name.empty()) return Status::InvalidArgument("bad_flag", "a bare '--' is not a flag");
    if (switches.count(name)) {
      flags.values_[name] = "";
    } else if (i + 1 < argc) {
      flags.values_[name] = argv[++i];
    } else {
      return Status::InvalidArgument("bad_flag", "--" + name + " needs a value");
    }
  }
  return flags;
}

std::string Flags::Get(const std::string& name, const std::string& fallback) const {
  read_[name] = true;
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

Result<std::uint64_t> Flags::GetU64(const std::string& name, std::uint64_t fallback) const {
  std::string text = Get(name, "");
  if (!Has(name)) return fallback;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0') {
    return Status::InvalidArgument("bad_flag",
                                   "--" + name + " needs a whole number, got '" + text + "'");
  }
  return static_cast<std::uint64_t>(value);
}

Result<double> Flags::GetDouble(const std::string& name, double fallback) const {
  std::string text = Get(name, "");
  if (!Has(name)) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0') {
    return Status::InvalidArgument("bad_flag", "--" + name + " needs a number, got '" + text + "'");
  }
  return value;
}

std::vector<std::string> Flags::Unread() const {
  std::vector<std::string> unread;
  for (const auto& [name, value] : values_) {
    if (!read_.count(name)) unread.push_back(name);
  }
  return unread;
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Status RequireAllRead(const Flags& flags) {
  auto unread = flags.Unread();
  if (unread.empty()) return Status::Ok();
  return Status::InvalidArgument("bad_flag", "unknown flag --" + unread.front());
}

void RemoveUnlessKept(const Common& common) {
  if (common.keep) return;
  std::error_code ec;
  std::filesystem::remove_all(common.dir, ec);
}

Result<std::unique_ptr<storage::EventLog>> OpenFresh(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    return Status::InvalidArgument("dir_not_empty",
                                   dir + " is not empty; append benchmarks start from nothing");
  }
  return storage::EventLog::Open(dir, storage::EventLogOptions());
}

std::size_t EventBytes(const storage::EventLog& log) {
  auto first = log.Read(1);
  return first.ok() ? first->bytes().size() : 0;
}

storage::EventLog::DurableCallback CountGroups(GroupCounter& groups) {
  // Generic, so that it fits whatever arguments the log passes its callbacks.
  return [&groups](const auto&...) { groups.Observe(); };
}

void PrintLatency(const char* what, const LatencySample& latency) {
  std::printf("%s latency: p50 %.1f us, p99 %.1f us, max %.1f us (%zu samples)\n", what,
              latency.PercentileUs(50), latency.PercentileUs(99), latency.MaxUs(), latency.size());
}

int GuardedMain(const char* name, int (*main)(int, char**), int argc, char** argv) {
  try {
    return main(argc, argv);
  } catch (const kj::Exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.getDescription().cStr());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
  }
  return 1;
}

}  // namespace authledger::bench
