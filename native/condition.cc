// Condition wake-ups: condEnter and condSleep for blocking sleepers, condClaim and condReap for
// notify, and CondWatcher, whose thread takes and acknowledges tokens for the async sleepers of one
// process, so that a notify never waits on an event loop (not even its own, when the sleeper is an
// async waiter of the notifying thread).
#include "condition.h"

#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <string>

#include "bell.h"
#include "errors.h"
#include "shm.h"
#include "system.h"
#include "wait.h"

namespace mp {
namespace {

CondState* CondArg(const Napi::CallbackInfo& info, size_t index) {
  Segment* segment = Segment::From(info[index]);
  int64_t offset = IntArg(info, index + 1, "offset");
  if (offset < 0 || offset % 8 != 0 || static_cast<size_t>(offset) + sizeof(CondState) > segment->size())
    throw Napi::RangeError::New(info.Env(), "Condition offset " + std::to_string(offset) + " is outside its segment");
  return reinterpret_cast<CondState*>(segment->data() + offset);
}

uint64_t SlotWord(int32_t pid, uint32_t count) { return static_cast<uint64_t>(static_cast<uint32_t>(pid)) << 32 | count; }
int32_t SlotPid(uint64_t word) { return static_cast<int32_t>(word >> 32); }
uint32_t SlotCount(uint64_t word) { return static_cast<uint32_t>(word); }

// Counts a sleeper of this process (under the condition's lock).
void AddSleeper(CondState* state) {
  state->sleeping.fetch_add(1);
  const int32_t me = getpid();
  for (int pass = 0; pass < 2; pass++) {
    for (auto& slot : state->by_process) {
      uint64_t word = slot.load();
      // First pass: this process's slot; second: a free one.
      while (pass == 0 ? SlotPid(word) == me : word == 0) {
        if (slot.compare_exchange_weak(word, SlotWord(me, SlotCount(word) + 1))) return;
      }
    }
  }
  state->untracked.fetch_add(1);
}

// A sleeper of this process is gone (woken or withdrawn); its process's slot frees at zero.
void RemoveSleeper(CondState* state) {
  const int32_t me = getpid();
  for (auto& slot : state->by_process) {
    uint64_t word = slot.load();
    while (SlotPid(word) == me) {
      const uint32_t left = SlotCount(word) - 1;
      if (slot.compare_exchange_weak(word, left == 0 ? 0 : SlotWord(me, left))) return;
    }
  }
  state->untracked.fetch_sub(1);
}

// Frees the slots of processes that died and returns how many sleepers they held.
int32_t ReapDeadSleepers(CondState* state) {
  int32_t dead = 0;
  for (auto& slot : state->by_process) {
    uint64_t word = slot.load();
    if (word == 0 || ProcessAlive(SlotPid(word))) continue;
    if (slot.compare_exchange_strong(word, 0)) dead += static_cast<int32_t>(SlotCount(word));
  }
  return dead;
}

// A sleeper that gave up withdraws itself, unless every remaining sleeper was claimed by a notify:
// then a token is on its way to it.
bool Withdraw(CondState* state) {
  int32_t sleeping = state->sleeping.load();
  while (sleeping > 0)
    if (state->sleeping.compare_exchange_weak(sleeping, sleeping - 1)) return true;
  return false;
}

// A sleeper takes its wake-up: it acknowledges, which lets notify return, then leaves the count
// (in this order, so a sleeper is counted until its notify has its acknowledgement: see CondReap).
void Acknowledge(CondState* state) {
  GiveTokens(&state->woken, 1);
  RemoveSleeper(state);
}

// The sleepers counted per process, claimed or not.
int32_t CountedSleepers(CondState* state) {
  int64_t counted = state->untracked.load();
  for (auto& slot : state->by_process) counted += SlotCount(slot.load());
  return static_cast<int32_t>(counted);
}

// condSleep(segment, offset, timeoutMs) -> 1 woken, 0 timed out, or kInterrupted: the sleeper
// already counted itself in `sleeping` (under the lock) and released the lock; < 0 waits forever.
// When this thread's bell rings, the sleeper stays counted while its thread serves a pool, and
// sleeps again with condSleep (or is woken by condTakeFor, if that pool's callback notifies).
Napi::Value CondSleep(const Napi::CallbackInfo& info) {
  CondState* state = CondArg(info, 0);
  if (!info[2].IsNumber()) ThrowType(info.Env(), "timeout must be a number");
  const int32_t taken = TakeBlocking(&state->wakeups, info[2].As<Napi::Number>().DoubleValue(), true);
  if (taken == kInterrupted) return Napi::Number::New(info.Env(), kInterrupted);
  bool woken = taken != kBusy;
  if (!woken && !Withdraw(state)) woken = TakeBlocking(&state->wakeups, -1) != kBusy;
  if (woken) {
    Acknowledge(state);
  } else {
    RemoveSleeper(state);
  }
  return Napi::Number::New(info.Env(), woken ? 1 : 0);
}

// condTakeFor(segment, offset) -> woken: takes a given wake-up, if one is there, for a sleeper of
// this thread whose sleep its bell interrupted; its thread, notifying, cannot wait for it otherwise.
Napi::Value CondTakeFor(const Napi::CallbackInfo& info) {
  CondState* state = CondArg(info, 0);
  if (TryTake(&state->wakeups) == kBusy) return Napi::Boolean::New(info.Env(), false);
  Acknowledge(state);
  return Napi::Boolean::New(info.Env(), true);
}

// condEnter(segment, offset): counts the caller a sleeper, under the condition's lock.
Napi::Value CondEnter(const Napi::CallbackInfo& info) {
  AddSleeper(CondArg(info, 0));
  return info.Env().Undefined();
}

// condClaim(segment, offset, n) -> how many sleepers it claimed (at most n, rounded up) and gave a
// token to. The caller holds the lock, so no sleeper can arrive meanwhile; it then waits for one
// acknowledgement per claimed sleeper (lib/synchronize.ts, Condition._notifySteps).
Napi::Value CondClaim(const Napi::CallbackInfo& info) {
  CondState* state = CondArg(info, 0);
  if (!info[2].IsNumber()) ThrowType(info.Env(), "n must be a number");
  const double wanted = std::ceil(info[2].As<Napi::Number>().DoubleValue());
  int32_t sleeping = state->sleeping.load();
  int32_t claimed = 0;
  do {
    if (sleeping <= 0 || wanted <= 0) return Napi::Number::New(info.Env(), 0);
    claimed = wanted >= sleeping ? sleeping : static_cast<int32_t>(wanted);
  } while (!state->sleeping.compare_exchange_weak(sleeping, sleeping - claimed));
  GiveTokens(&state->wakeups, claimed);
  return Napi::Number::New(info.Env(), claimed);
}

// condReap(segment, offset, pending) -> [settled, takenBack], for a notify still waiting for
// `pending` acknowledgements: the sleepers whose process died leave `sleeping` if no notify claimed
// them; the others held tokens given by this notify, which it takes back (to give them to live
// sleepers), or which they took before dying. Either way no acknowledgement comes for them.
// A sleeper killed inside condEnter, between `sleeping` and its process's slot, is in no slot: its
// claim is found as more acknowledgements owed than sleepers counted.
Napi::Value CondReap(const Napi::CallbackInfo& info) {
  CondState* state = CondArg(info, 0);
  int32_t pending = static_cast<int32_t>(IntArg(info, 2, "pending"));
  int32_t dead = ReapDeadSleepers(state);
  while (dead > 0 && Withdraw(state)) dead--;
  int32_t settled = 0;
  int32_t taken_back = 0;
  const auto settle_without_acknowledgement = [&] {
    settled++;
    if (TryTake(&state->wakeups) != kBusy) taken_back++;
  };
  for (; dead > 0 && settled < pending; dead--) settle_without_acknowledgement();
  // Read in this order, a sleeper leaving meanwhile can only make the claimed count too high; its
  // acknowledgement, given before it left, is then taken here.
  const int32_t counted = CountedSleepers(state);
  const int32_t claimed = counted - state->sleeping.load();
  while (settled < pending && TryTake(&state->woken) != kBusy) settled++;
  for (int32_t lost = pending - settled - claimed; lost > 0; lost--) settle_without_acknowledgement();
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), settled));
  result.Set(1u, Napi::Number::New(info.Env(), taken_back));
  return result;
}

// new CondWatcher(segment, offset, onDelivered): the async waiters of one Condition object.
// enter() counts one in; the thread takes a token for it, acknowledges it and calls onDelivered,
// after which deliveries() hands the count to JS; leave() is a waiter giving up (timeout, abort).
class CondWatcher : public Napi::ObjectWrap<CondWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CondWatcher",
                       {InstanceMethod<&CondWatcher::Enter>("enter"), InstanceMethod<&CondWatcher::Leave>("leave"),
                        InstanceMethod<&CondWatcher::Deliveries>("deliveries"), InstanceMethod<&CondWatcher::Idle>("idle")});
  }

  explicit CondWatcher(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<CondWatcher>(info),
        state_(CondArg(info, 0)),
        thread_(info, 2, "CondWatcher", "mpjs-condition-watch", &state_->wakeups.value, Segment::From(info[0])->mapping()) {
    thread_.Start([this] { Run(); });
  }

 private:
  void Run() {
    for (;;) {
      bool took = false;
      {
        std::unique_lock<std::mutex> lock(thread_.mutex());
        thread_.work_cv().wait(lock, [this] { return waiting_ > 0 || thread_.stopping(); });
        if (thread_.stopping()) return;
        if (TryTake(&state_->wakeups) != kBusy) {
          waiting_--;
          delivered_++;
          took = true;
        }
      }
      if (took) {
        Acknowledge(state_);
        thread_.Call();
        continue;
      }
      ParkCounted(&state_->wakeups.value, 0, &state_->wakeups.sleepers, -1);
      std::lock_guard<std::mutex> lock(thread_.mutex());
      // The wake that reached this thread may have been meant for a sleeper elsewhere: pass it on.
      if (waiting_ == 0 && state_->wakeups.value.load() > 0 && state_->wakeups.sleepers.load() > 0)
        WakeWord(&state_->wakeups.value, 1);
    }
  }

  Napi::Value Enter(const Napi::CallbackInfo& info) {
    if (thread_.stopping()) throw Napi::Error::New(info.Env(), "the condition watcher is closed");
    thread_.Ref(info.Env());
    {
      std::lock_guard<std::mutex> lock(thread_.mutex());
      waiting_++;
    }
    thread_.work_cv().notify_one();
    return info.Env().Undefined();
  }

  // leave() -> 1: a token taken for this process is the leaver's (woken); 0: withdrawn;
  // -1: a notify claimed every sleeper left, so the leaver stays until its token is delivered.
  Napi::Value Leave(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(thread_.mutex());
    if (delivered_ > 0) {
      delivered_--;
      return Napi::Number::New(info.Env(), 1);
    }
    if (waiting_ > 0 && Withdraw(state_)) {
      waiting_--;
      RemoveSleeper(state_);
      return Napi::Number::New(info.Env(), 0);
    }
    return Napi::Number::New(info.Env(), -1);
  }

  Napi::Value Deliveries(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(thread_.mutex());
    const int32_t count = delivered_;
    delivered_ = 0;
    return Napi::Number::New(info.Env(), count);
  }

  Napi::Value Idle(const Napi::CallbackInfo& info) {
    thread_.Unref(info.Env());
    return info.Env().Undefined();
  }

  CondState* state_;
  int32_t waiting_ = 0;    // local waiters still without a token
  int32_t delivered_ = 0;  // tokens taken for local waiters, not yet handed to them
  CallbackThread thread_;  // last: destroyed first, it joins the thread before what the thread uses goes
};

}  // namespace

void InitCondition(Napi::Env env, Napi::Object exports) {
  exports.Set("condEnter", Napi::Function::New(env, CondEnter, "condEnter"));
  exports.Set("condSleep", Napi::Function::New(env, CondSleep, "condSleep"));
  exports.Set("condTakeFor", Napi::Function::New(env, CondTakeFor, "condTakeFor"));
  exports.Set("condClaim", Napi::Function::New(env, CondClaim, "condClaim"));
  exports.Set("condReap", Napi::Function::New(env, CondReap, "condReap"));
  exports.Set("CondWatcher", CondWatcher::Define(env));
}

}  // namespace mp
