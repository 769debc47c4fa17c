// SemLock slow paths: initialise, blocking acquire with a deadline, wake, and owner-death recovery.
#include "semlock.h"

#include <unistd.h>

#include <algorithm>
#include <string>

#include "bell.h"
#include "errors.h"
#include "shm.h"
#include "system.h"
#include "wait.h"

namespace mp {
namespace {

// How often a sleeper on a held lock checks that the holder still exists.
constexpr double kOwnerCheckMs = 100;
// Polls before parking: a holder on another core usually releases within a microsecond, far
// sooner than a futex sleep and wake-up round trip.
constexpr int kSpins = 200;

Napi::Value SemInit(const Napi::CallbackInfo& info) {
  SemLockState* state = StateArg(info, 0);
  int64_t value = IntArg(info, 2, "value");
  int64_t maxvalue = IntArg(info, 3, "maxvalue");
  int64_t kind = IntArg(info, 4, "kind");
  if (value < 0 || maxvalue < 1 || value > maxvalue || maxvalue > INT32_MAX || (kind != 0 && kind != 1))
    throw Napi::RangeError::New(info.Env(), "SemLock: need 0 <= value <= maxvalue <= 2**31-1 and kind 0 or 1");
  state->value.store(static_cast<int32_t>(value));
  state->sleepers.store(0);
  state->reserved = 0;
  state->owner_tid.store(0);
  state->count.store(0);
  state->maxvalue = static_cast<int32_t>(maxvalue);
  state->kind = static_cast<int32_t>(kind);
  state->recoveries.store(0);
  return info.Env().Undefined();
}

// semAcquire(segment, offset, timeoutMs): blocks the calling thread; < 0 waits forever. Returns a
// TakeResult, or kInterrupted when this thread's armed bell rang (lib/blocking.ts serves and retries).
Napi::Value SemAcquire(const Napi::CallbackInfo& info) {
  SemLockState* state = StateArg(info, 0);
  if (!info[2].IsNumber()) ThrowType(info.Env(), "timeout must be a number");
  return Napi::Number::New(info.Env(), TakeBlocking(state, info[2].As<Napi::Number>().DoubleValue(), true));
}

Napi::Value SemTryTake(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), TryTake(StateArg(info, 0)));
}

Napi::Value SemWake(const Napi::CallbackInfo& info) {
  SemLockState* state = StateArg(info, 0);
  WakeWord(&state->value, static_cast<int32_t>(IntArg(info, 2, "count")));
  return info.Env().Undefined();
}

}  // namespace

SemLockState* StateArg(const Napi::CallbackInfo& info, size_t index) {
  Segment* segment = Segment::From(info[index]);
  int64_t offset = IntArg(info, index + 1, "offset");
  if (offset < 0 || offset % 8 != 0 || static_cast<size_t>(offset) + sizeof(SemLockState) > segment->size())
    throw Napi::RangeError::New(info.Env(), "SemLock offset " + std::to_string(offset) + " is outside its segment");
  return reinterpret_cast<SemLockState*>(segment->data() + offset);
}

// The pid of a maxvalue-1 lock's holder when that holder no longer exists, else 0.
static int32_t DeadOwner(SemLockState* state) {
  if (state->maxvalue != 1) return 0;
  int32_t owner = -state->value.load();
  return owner > 0 && owner != getpid() && !ProcessAlive(owner) ? owner : 0;
}

bool OwnerDied(SemLockState* state) { return DeadOwner(state) != 0; }

TakeResult TryTake(SemLockState* state) {
  int32_t value = state->value.load();
  if (state->maxvalue != 1) {
    while (value > 0)
      if (state->value.compare_exchange_weak(value, value - 1)) return kTaken;
    return kBusy;
  }
  const int32_t pid = getpid();
  if (value == 1 && state->value.compare_exchange_strong(value, -pid)) return kTaken;
  // The token died with its holder: whoever swaps that very holder for itself inherits it.
  if (value < 0 && -value != pid && !ProcessAlive(-value) && state->value.compare_exchange_strong(value, -pid)) {
    state->owner_tid.store(0);
    state->recoveries.fetch_add(1);
    return kRecovered;
  }
  return kBusy;
}

int32_t TakeBlocking(SemLockState* state, double timeout_ms, bool ringable) {
  const double deadline = timeout_ms < 0 ? -1 : MonotonicMs() + timeout_ms;
  for (int spin = 0; spin < kSpins && timeout_ms != 0; spin++) {
    if (state->value.load(std::memory_order_relaxed) > 0) {
      TakeResult result = TryTake(state);
      if (result != kBusy) return result;
    }
    CpuRelax();
  }
  for (;;) {
    TakeResult result = TryTake(state);
    if (result != kBusy) return result;
    // Parks on the value seen busy (0, or a holder's -pid): any change wakes or skips the park.
    const int32_t seen = state->value.load();
    if (seen > 0) continue;
    double slice = state->maxvalue == 1 ? kOwnerCheckMs : -1;
    if (deadline >= 0) {
      double remaining = deadline - MonotonicMs();
      if (remaining <= 0) return kBusy;
      slice = slice < 0 ? remaining : std::min(slice, remaining);
    }
    if (!ringable) {
      ParkCounted(&state->value, seen, &state->sleepers, slice);
    } else {
      if (BellRang()) return kInterrupted;
      ParkRingable(&state->value, seen, &state->sleepers, slice);
    }
  }
}

void GiveTokens(SemLockState* state, int32_t count) {
  state->value.fetch_add(count);
  if (state->sleepers.load() > 0) WakeWord(&state->value, count);
}

void InitSemLock(Napi::Env env, Napi::Object exports) {
  exports.Set("semInit", Napi::Function::New(env, SemInit, "semInit"));
  exports.Set("semAcquire", Napi::Function::New(env, SemAcquire, "semAcquire"));
  exports.Set("semTryTake", Napi::Function::New(env, SemTryTake, "semTryTake"));
  exports.Set("semWake", Napi::Function::New(env, SemWake, "semWake"));
}

}  // namespace mp
