// Spinning before sleeping (spin.h): SpinPoll for the blocking waits, and spinLoop, which keeps a
// JS thread's event loop polling without sleeping until a deadline, so the answer to a message it
// just sent is read by a busy CPU and its sender never pays for waking an idle one.
#include "spin.h"

#include <sched.h>
#include <uv.h>

#include "deadline.h"
#include "wait.h"

namespace mp {

int SpinPoll(pollfd* entries, size_t count, double spin_ms) {
  const double until = MonotonicMs() + spin_ms;
  for (;;) {
    const int ready = poll(entries, count, 0);
    if (ready != 0 || MonotonicMs() >= until) return ready < 0 ? 0 : ready;
    sched_yield();
  }
}

namespace {

// One per JS thread: an unreferenced idle handle makes libuv poll with a zero timeout (it never
// keeps the loop alive); its callback stops it once the deadline passed.
struct LoopSpinner {
  uv_idle_t idle;
  double until_ms = 0;
  bool active = false;
};

thread_local LoopSpinner* spinner_here = nullptr;

void OnIdle(uv_idle_t* handle) {
  auto* spinner = static_cast<LoopSpinner*>(handle->data);
  if (MonotonicMs() < spinner->until_ms) {
    sched_yield();
    return;
  }
  uv_idle_stop(handle);
  spinner->active = false;
}

void CloseSpinner(void* data) {
  auto* spinner = static_cast<LoopSpinner*>(data);
  if (spinner_here == spinner) spinner_here = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&spinner->idle), [](uv_handle_t* handle) { delete static_cast<LoopSpinner*>(handle->data); });
}

// spinLoop(ms): this thread's event loop polls without sleeping for the next ms (extends, never shortens).
Napi::Value SpinLoop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "spinLoop(ms: number)");
  const double ms = info[0].As<Napi::Number>().DoubleValue();
  if (!(ms > 0)) return env.Undefined();
  LoopSpinner* spinner = spinner_here;
  if (spinner == nullptr) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return env.Undefined();
    spinner = new LoopSpinner();
    uv_idle_init(loop, &spinner->idle);
    spinner->idle.data = spinner;
    uv_unref(reinterpret_cast<uv_handle_t*>(&spinner->idle));
    napi_add_env_cleanup_hook(env, CloseSpinner, spinner);
    spinner_here = spinner;
  }
  const double until = MonotonicMs() + ms;
  if (until > spinner->until_ms) spinner->until_ms = until;
  if (!spinner->active) {
    uv_idle_start(&spinner->idle, OnIdle);
    spinner->active = true;
  }
  return env.Undefined();
}

}  // namespace

void InitSpin(Napi::Env env, Napi::Object exports) { exports.Set("spinLoop", Napi::Function::New(env, SpinLoop, "spinLoop")); }

}  // namespace mp
