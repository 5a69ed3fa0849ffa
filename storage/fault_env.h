// The RocksDB Env behind FaultInjector (internal to storage/).
//
// Thread-safety: as RocksDB's Env.
#pragma once

#include <rocksdb/env.h>

#include <memory>

#include "storage/fault_injection.h"

namespace authledger::storage {

// An Env over the default file system whose writable files consult `faults`.
std::unique_ptr<rocksdb::Env> NewFaultInjectingEnv(std::shared_ptr<FaultInjector> faults);

}  // namespace authledger::storage
