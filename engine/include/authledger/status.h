// Status and Result<T>: how every fallible call in authledger reports its outcome.
//
// A Status is either OK or carries a Code (the category a program branches on), a
// stable snake_case reason (the domain's word, e.g. "mfa_required_by_organization",
// part of the public contract and never reworded) and a human message. OK is a null
// pointer, so `ok()` is one test and returning OK allocates nothing.
//
// Result<T> holds a T or a non-OK Status. Expected failures are values; exceptions
// never cross the public API.
//
// Thread-safety: values; distinct objects may be used from any threads, one object
// is not synchronized.
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace authledger {

class Status {
 public:
  enum class Code : std::uint8_t {
    kOk = 0,
    kInvalidArgument,     // the request is malformed or out of range
    kNotFound,            // the named thing does not exist
    kDenied,              // a rule refused the command or check
    kConflict,            // optimistic concurrency: the state moved on
    kPermissionDenied,    // the caller's role may not do this
    kFailedPrecondition,  // the state does not allow it (e.g. read-only engine)
    kIoError,             // the disk or the OS failed
    kCorruption,          // stored data does not match what it must be
    kUnavailable,         // shutting down, or not open
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Make(Code code, std::string_view reason, std::string_view message) {
    assert(code != Code::kOk);
    return Status(code, reason, message);
  }
  static Status InvalidArgument(std::string_view reason, std::string_view message) {
    return Make(Code::kInvalidArgument, reason, message);
  }
  static Status NotFound(std::string_view reason, std::string_view message) {
    return Make(Code::kNotFound, reason, message);
  }
  static Status Denied(std::string_view reason, std::string_view message) {
    return Make(Code::kDenied, reason, message);
  }
  static Status Conflict(std::string_view reason, std::string_view message) {
    return Make(Code::kConflict, reason, message);
  }
  static Status PermissionDenied(std::string_view reason, std::string_view message) {
    return Make(Code::kPermissionDenied, reason, message);
  }
  static Status FailedPrecondition(std::string_view reason, std::string_view message) {
    return Make(Code::kFailedPrecondition, reason, message);
  }
  static Status IoError(std::string_view reason, std::string_view message) {
    return Make(Code::kIoError, reason, message);
  }
  static Status Corruption(std::string_view reason, std::string_view message) {
    return Make(Code::kCorruption, reason, message);
  }
  static Status Unavailable(std::string_view reason, std::string_view message) {
    return Make(Code::kUnavailable, reason, message);
  }

  Status(const Status& other) : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  // The stable reason code; "ok" when ok().
  std::string_view reason() const { return rep_ ? std::string_view(rep_->reason) : "ok"; }
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : ""; }
  // "reason: message", or "ok".
  std::string ToString() const {
    if (!rep_) return "ok";
    return rep_->reason + ": " + rep_->message;
  }

 private:
  struct Rep {
    Code code;
    std::string reason;
    std::string message;
  };
  Status(Code code, std::string_view reason, std::string_view message)
      : rep_(std::make_unique<Rep>(Rep{code, std::string(reason), std::string(message)})) {}

  std::unique_ptr<Rep> rep_;
};

// A T or the Status explaining why there is none. Constructing from an OK Status is
// a programming error.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace authledger
