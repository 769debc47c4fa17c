// Platform parking for fork (shared/notes/fork-parking.md): before fork(2), every V8 platform worker
// runs a task of ours that blocks on a pipe, so none holds a V8 lock or waits on the task queue's
// condition variable when the process is copied; and the exit path of a fork child, which must not
// join platform threads it does not have; in the child, a platform of its own (child_platform.h)
// so that worker tasks run again. Also the V8 facts the serializer needs that N-API lacks (a
// function's script id and name), and parcel views that V8 itself lets go (parcel_views.cc). Uses node.h, so it is built per Node ABI, apart from the ABI-stable main addon.
#include <fcntl.h>
#include <pthread.h>
#include <node.h>
#include <uv.h>
#include <stdio.h>
#include <unistd.h>
#include <v8-platform.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "../deadline.h"
#include "../keep_loaded.h"
#include "child_platform.h"
#include "js_errors.h"
#include "parcel_views.h"

using mp::park::Text;
using mp::park::Throw;
using mp::park::ThrowErrno;

namespace {

// One gate per park(): tasks that start after a timed-out park() use their own gate, so their
// late "started" bytes never count for the next park().
struct Gate {
  int started[2] = {-1, -1};
  int release[2] = {-1, -1};
  ~Gate() { CloseAll(); }
  void CloseAll() {
    for (int* fds : {started, release})
      for (int i = 0; i < 2; i++)
        if (fds[i] >= 0) close(fds[i]), fds[i] = -1;
  }
};

std::shared_ptr<Gate> gate;  // the gate of the tasks parked now
int parked = 0;

// Set by park() for the fork that follows, so the atfork handler acts on our forks only.
bool armed = false;
bool in_fork_child = false;
// V8's platform as Node made it, and how many worker threads it has, seen in the first parent.
v8::Platform* node_platform = nullptr;
int node_workers = 0;

// Runs in the child inside fork(2), before any JavaScript: V8 must not post a task to threads
// that are gone (or to a parent's child platform, whose condition variable has phantom waiters).
void AfterForkInChild() {
  if (!armed) return;
  armed = false;
  in_fork_child = true;
  mp::InstallChildPlatform(node_platform, node_workers);
}

class ParkTask : public v8::Task {
 public:
  explicit ParkTask(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}
  void Run() override {
    char byte = 1;
    while (write(gate_->started[1], &byte, 1) < 0 && errno == EINTR) {
    }
    while (read(gate_->release[0], &byte, 1) < 0 && errno == EINTR) {
    }
  }

 private:
  std::shared_ptr<Gate> gate_;
};

node::MultiIsolatePlatform* PlatformOf(v8::Isolate* isolate) {
  return node::GetMultiIsolatePlatform(node::GetCurrentEnvironment(isolate->GetCurrentContext()));
}

// The count includes the delayed-task scheduler, which never runs worker tasks.
int WorkerThreads(node::MultiIsolatePlatform* platform) { return platform ? platform->NumberOfWorkerThreads() - 1 : 0; }

void Release(Gate* to, int count) {
  char bytes[64];
  memset(bytes, 1, sizeof(bytes));
  while (count > 0) {
    ssize_t wrote = write(to->release[1], bytes, count < 64 ? count : 64);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) break;
    count -= static_cast<int>(wrote);
  }
}

// workerThreads() -> the number of platform worker threads parking occupies.
void WorkerThreadsJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  args.GetReturnValue().Set(WorkerThreads(PlatformOf(args.GetIsolate())));
}

// park(timeoutMs, platformIdle) -> true when every platform worker runs a parked task; false (all
// released) when they did not all start in time, e.g. behind a long GC task. `platformIdle`: V8
// runs --single-threaded, so it posts no worker task and Node's worker threads only wait on their
// queue, holding nothing: the fork is armed (the child still gets a platform of its own) without
// waking them, which cost 0.1-3 ms per fork in a busy forkserver.
void ParkJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  double timeout_ms = args[0]->IsNumber() ? args[0].As<v8::Number>()->Value() : 1000;
  if (parked > 0) return Throw(isolate, "park: the platform is already parked");
  armed = true;
  if (in_fork_child) {
    // Node's platform threads are the parent's; ours are the ones to hold still.
    args.GetReturnValue().Set(mp::PauseChildPlatform(timeout_ms));
    return;
  }
  node::MultiIsolatePlatform* platform = PlatformOf(isolate);
  const int count = WorkerThreads(platform);
  node_platform = platform;
  node_workers = count;
  if (args.Length() > 1 && args[1]->IsTrue()) {
    args.GetReturnValue().Set(true);
    return;
  }
  auto fresh = std::make_shared<Gate>();
  if (pipe2(fresh->started, O_CLOEXEC) != 0 || pipe2(fresh->release, O_CLOEXEC) != 0)
    return ThrowErrno(isolate, "pipe2 (parking the platform for fork)", errno);
  gate = fresh;
  for (int i = 0; i < count; i++) platform->CallOnWorkerThread(std::make_unique<ParkTask>(gate));
  parked = count;
  int started = 0;
  const double deadline = mp::MonotonicMs() + timeout_ms;
  char bytes[64];
  while (started < count) {
    double left = deadline - mp::MonotonicMs();
    if (left <= 0) break;
    pollfd watch{gate->started[0], POLLIN, 0};
    if (mp::PollWithDeadline(&watch, 1, left) <= 0) continue;
    ssize_t got = read(gate->started[0], bytes, static_cast<size_t>(count - started < 64 ? count - started : 64));
    if (got > 0) started += static_cast<int>(got);
  }
  if (started < count) {
    // Late starters find their release byte waiting and finish at once.
    Release(gate.get(), parked);
    parked = 0;
    gate.reset();
    args.GetReturnValue().Set(false);
    return;
  }
  args.GetReturnValue().Set(true);
}

// release(): in the parent after fork, lets the parked tasks finish.
void ReleaseJs(const v8::FunctionCallbackInfo<v8::Value>&) {
  armed = false;
  mp::ResumeChildPlatform();
  if (gate) Release(gate.get(), parked);
  parked = 0;
  gate.reset();
}

// forgetInChild(): the fork child has no platform threads; drop the pipes it inherited.
// The queued task objects in the child keep the gate referenced, so close its fds explicitly.
void ForgetInChildJs(const v8::FunctionCallbackInfo<v8::Value>&) {
  if (gate) gate->CloseAll();
  gate.reset();
  parked = 0;
}

// childThreads(): the threads this fork child's platform started (0 in a parent).
void ChildThreadsJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  args.GetReturnValue().Set(mp::ChildPlatformThreads());
}

// exitWithoutPlatform(): in a fork child, routes every exit Node takes (process.exit, reallyExit, a
// fatal exception) to _exit once the 'exit' event has run: Node's own exit disposes the platform,
// joining worker threads that exist only in the parent (a hang or a crash).
void ExitWithoutPlatformJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  node::SetProcessExitHandler(node::GetCurrentEnvironment(args.GetIsolate()->GetCurrentContext()),
                              [](node::Environment*, int code) {
                                fflush(nullptr);
                                _exit(code);
                              });
}

// scriptId(fn): the id of the script V8 compiled fn from (the inspector's scriptId), 0 for none;
// the serializer's way to a function's origin without an inspector round trip.
void ScriptIdJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  args.GetReturnValue().Set(args.Length() > 0 && args[0]->IsFunction() ? args[0].As<v8::Function>()->ScriptId() : 0);
}

// scriptName(fn): the name V8 compiled fn's script under (a file path or URL; '' for none).
void ScriptNameJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Local<v8::Value> name;
  if (args.Length() > 0 && args[0]->IsFunction()) name = args[0].As<v8::Function>()->GetScriptOrigin().ResourceName();
  if (name.IsEmpty() || !name->IsString()) name = v8::String::Empty(args.GetIsolate());
  args.GetReturnValue().Set(name);
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  KeepLoaded();
  static bool registered = false;
  if (!registered) registered = pthread_atfork(nullptr, nullptr, AfterForkInChild) == 0;
  NODE_SET_METHOD(exports, "childThreads", ChildThreadsJs);
  NODE_SET_METHOD(exports, "workerThreads", WorkerThreadsJs);
  NODE_SET_METHOD(exports, "park", ParkJs);
  NODE_SET_METHOD(exports, "release", ReleaseJs);
  NODE_SET_METHOD(exports, "forgetInChild", ForgetInChildJs);
  NODE_SET_METHOD(exports, "exitWithoutPlatform", ExitWithoutPlatformJs);
  NODE_SET_METHOD(exports, "scriptId", ScriptIdJs);
  NODE_SET_METHOD(exports, "scriptName", ScriptNameJs);
  InitParcelViews(exports);
}
