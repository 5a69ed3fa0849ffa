// EventLog's narrow subject index (see subjects.h): how far it goes, and, at a writable
// Open, indexing the events that a build without the narrow kinds appended.
//
// The index keys of an event are a pure function of the event, so writing them again is
// harmless; each batch also records how far the index then goes. A run that a crash
// interrupts is therefore resumed, not restarted, by the next Open, and a finished one
// is never repeated.
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>

#include "storage/event_log_impl.h"

namespace authledger::storage {

Status EventLog::Impl::LoadNarrowIndex() {
  const std::uint64_t log_size = size.load();
  std::string value;
  std::uint64_t through = 0;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, kMetaNarrowIndexThrough, &value);
  if (s.ok() && !ParseU64(value, &through)) {
    return Status::Corruption("log_damaged", "the narrow index record is damaged");
  }
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading how far the narrow index goes");
  through = std::min(through, log_size);
  narrow_index_through = through;
  if (options.read_only || through == log_size) return Status::Ok();

  const auto start = std::chrono::steady_clock::now();
  const auto& info_log = db->GetDBOptions().info_log;
  rocksdb::Warn(info_log,
                "authledger: indexing events %llu..%llu under the narrow subject kinds (written "
                "by a build without them)",
                static_cast<unsigned long long>(through + 1),
                static_cast<unsigned long long>(log_size));
  rocksdb::WriteBatch batch;
  rocksdb::WriteOptions write_options;
  auto write = [&](std::uint64_t done, bool last) {
    batch.Put(meta, kMetaNarrowIndexThrough, U64Bytes(done));
    write_options.sync = last;
    rocksdb::Status w = db->Write(write_options, &batch);
    batch.Clear();
    return w.ok() ? Status::Ok() : FromRocks(w, "writing the narrow index");
  };
  const std::uint64_t batch_events = std::max<std::uint64_t>(1, options.narrow_index_batch_events);
  Status written;
  Status scanned = ScanEvents(through + 1, log_size, [&](const DecodedEvent& event) {
    const std::uint64_t seq = event.seq();
    for (const auto& subject : NarrowSubjectsOf(event.envelope())) {
      batch.Put(index, IndexKey(subject, seq), rocksdb::Slice());
    }
    if (seq % batch_events == 0 && seq != log_size) written = write(seq, false);
    return written.ok();
  });
  if (!scanned.ok()) return scanned;
  if (!written.ok()) return written;
  if (Status w = write(log_size, true); !w.ok()) return w;
  rocksdb::Warn(info_log,
                "authledger: indexed %llu events under the narrow subject kinds in %.1f s",
                static_cast<unsigned long long>(log_size - through),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return Status::Ok();
}

std::uint64_t EventLog::NarrowIndexThrough() const {
  return impl_->options.read_only ? impl_->narrow_index_through : size();
}

}  // namespace authledger::storage
