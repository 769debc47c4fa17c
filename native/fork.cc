// fork(2) inside Node.js, with every remedy measured in shared/notes/fork.md: refuse unless this
// is the only JS thread, undo V8's MADV_DONTFORK, re-arm libuv in the child, leave with _exit; and
// posix_spawn of fresh node children whose pid we alone reap.
#include "fork.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#ifdef __linux__
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deadline.h"
#include "errors.h"
#include "memfd.h"
#include "shm.h"
#include "unix_socket.h"
#include "wait.h"

namespace mp {
namespace {

struct Fd {
  explicit Fd(int fd = -1) : fd(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset(int next = -1) {
    if (fd >= 0) close(fd);
    fd = next;
  }
  int release() {
    int out = fd;
    fd = -1;
    return out;
  }
  int fd;
};

// Set in a fork child: its libuv threadpool is gone until first use, and so are the platform threads.
bool threadpool_started = false;
// The warm-up request of EnsureThreadpool until its callback ran. A child forked meanwhile never
// sees it complete (its pool threads are gone), so it must not count as pending there.
uv_work_t* warmup_pending = nullptr;
// Pipe-sentinel fallback: the write end this process holds as its own life marker, which its
// own fork children must not keep open.
int own_sentinel_write = -1;

uv_loop_t* LoopOf(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw Napi::Error::New(env, "fork: napi_get_uv_event_loop failed");
  return loop;
}

// libuv starts all its pool threads at once on first use; starting it here makes the thread count
// deterministic (0 or UV_THREADPOOL_SIZE would be ambiguous with Workers).
void EnsureThreadpool(uv_loop_t* loop) {
  if (threadpool_started) return;
  auto* req = new uv_work_t;
  int rc = uv_queue_work(loop, req, [](uv_work_t*) {}, [](uv_work_t* done, int) {
    if (warmup_pending == done) warmup_pending = nullptr;
    delete done;
  });
  if (rc != 0) delete req;
  else warmup_pending = req;
  threadpool_started = true;
}

bool InQueue(const uv__queue* head, const uv__queue* item) {
  for (const uv__queue* q = head->next; q != head; q = q->next)
    if (q == item) return true;
  return false;
}

int ThreadpoolSize() {
  const char* value = getenv("UV_THREADPOOL_SIZE");
  int size = value ? atoi(value) : 4;
  if (size <= 0) size = 1;
  return size > 1024 ? 1024 : size;
}

int CountThreads() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir))
    if (entry->d_name[0] != '.') count++;
  closedir(dir);
  return count;
}

// The threads by name (/proc/self/task/*/comm), for a refusal to say which it saw: Node 22 and later
// name theirs ("V8Worker x4, libuv-worker x4, …"), so an addon's or the kernel's stands out.
std::string ThreadNames() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return "";
  std::vector<std::pair<std::string, int>> names;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string name = "?";
    const std::string path = std::string("/proc/self/task/") + entry->d_name + "/comm";
    if (FILE* comm = fopen(path.c_str(), "re")) {
      char text[64] = {0};
      if (fgets(text, sizeof text, comm) != nullptr) name.assign(text, strcspn(text, "\n"));
      fclose(comm);
    }
    auto seen = std::find_if(names.begin(), names.end(), [&](const auto& known) { return known.first == name; });
    if (seen == names.end()) names.emplace_back(name, 1);
    else seen->second++;
  }
  closedir(dir);
  std::string out;
  for (const auto& [name, count] : names) out += (out.empty() ? "" : ", ") + name + (count > 1 ? " x" + std::to_string(count) : "");
  return out;
}

bool OnMainThread() {
#ifdef __linux__
  return syscall(SYS_gettid) == getpid();
#else
  return true;
#endif
}

#ifdef __linux__
using Range = std::pair<unsigned long, unsigned long>;

// madvise(MADV_DOFORK) over [start, stop), which may span holes (ENOMEM there, the mapped parts are
// still done); false when a mapping in it refuses (EINVAL: VM_IO), which stops the kernel's walk.
bool DoFork(unsigned long start, unsigned long stop) {
  return madvise(reinterpret_cast<void*>(start), stop - start, MADV_DOFORK) == 0 || errno != EINVAL;
}

// What the full pass learnt for the quick one: the kernel's own mappings ([vvar], [vdso]: they
// never move, and refuse the advice).
std::vector<Range> kernel_own;
bool learnt = false;
bool query_supported = true;
// Above every user address on every 64-bit Linux (x86-64: 2^47, or 2^56 with 5-level paging; arm64: 2^52).
constexpr unsigned long kUserTop = static_cast<unsigned long>(uint64_t{1} << 62);

// The full pass: every line of /proc/self/maps, one madvise per run of private mappings. Reading
// the file costs about 0.7 µs a mapping, and V8 maps every 256 KiB heap page apart: 0.6 ms for a
// 250 MB heap, which is why later forks take the quick pass.
void DoForkFull(int maps) {
  std::string text;
  char chunk[65536];
  ssize_t got;
  while ((got = read(maps, chunk, sizeof(chunk))) > 0) text.append(chunk, static_cast<size_t>(got));
  kernel_own.clear();
  learnt = true;
  std::vector<Range> run;
  auto flush = [&run] {
    if (run.empty()) return;
    if (!DoFork(run.front().first, run.back().second))
      for (const auto& [start, stop] : run) DoFork(start, stop);  // one refused: the rest one by one
    run.clear();
  };
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const char* line = text.c_str() + at;
    const bool kernel = std::string_view(line, end - at).find(" [v") != std::string_view::npos;  // [vvar], [vdso], …
    at = end + 1;
    unsigned long start = 0, stop = 0;
    char perms[8] = {0};
    if (sscanf(line, "%lx-%lx %7s", &start, &stop, perms) != 3) continue;
    if (kernel) kernel_own.emplace_back(start, stop);
    // Shared mappings are left as they are: DONTFORK there is their owner's choice.
    if (perms[3] != 'p' || kernel) {
      flush();
      continue;
    }
    run.emplace_back(start, stop);
  }
  flush();
}

// PROCMAP_QUERY's argument (Linux 6.11 uapi, absent from older headers); its size is part of the
// request number.
struct MapQuery {
  uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
  uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
  uint64_t vma_name_addr, build_id_addr;
};
constexpr unsigned long kProcmapQuery = _IOWR('f', 17, MapQuery);
constexpr uint64_t kQueryShared = 0x08, kQueryCoveringOrNext = 0x10;

// The quick pass: asks the kernel for the shared mappings alone (PROCMAP_QUERY, a few calls) and
// advises all the rest of the address space, holes included, in one call per gap. False when it
// cannot (an older kernel, a new mapping that refuses): the full pass is then needed.
bool DoForkQuick(int maps) {
  if (!query_supported || !learnt || sizeof(unsigned long) < 8) return false;
  std::vector<Range> skip(kernel_own);
  for (uint64_t addr = 0;;) {
    MapQuery query{};
    query.size = sizeof(query);
    query.query_flags = kQueryShared | kQueryCoveringOrNext;
    query.query_addr = addr;
    if (ioctl(maps, kProcmapQuery, &query) != 0) {
      if (errno == ENOENT) break;
      query_supported = false;
      return false;
    }
    skip.emplace_back(query.vma_start, query.vma_end);
    addr = query.vma_end;
  }
  std::sort(skip.begin(), skip.end());
  unsigned long from = 0;
  for (const auto& [start, stop] : skip) {
    if (start >= kUserTop) break;  // [vsyscall]
    if (start > from && !DoFork(from, start)) return false;
    from = std::max(from, stop);
  }
  return from >= kUserTop || DoFork(from, kUserTop);
}
#endif

// Undoes V8's MADV_DONTFORK on every private mapping; without it the child has no JS heap.
void DoForkPass() {
#ifdef __linux__
  Fd maps(open("/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (maps.fd >= 0 && !DoForkQuick(maps.fd)) DoForkFull(maps.fd);
#endif
}

int PidfdOpen(pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#else
  errno = ENOSYS;
  return -1;
#endif
}

bool PidfdSupported() {
  static int supported = -1;
  if (supported < 0) {
    int fd = PidfdOpen(getpid());
    supported = fd >= 0;
    if (fd >= 0) close(fd);
  }
  return supported == 1;
}

// The parent's JS signal listeners need its event loop; in the child they would swallow SIGTERM.
// Ignored signals (SIGPIPE) stay ignored and V8's fault handlers stay, as CPython's fork child keeps them.
void ResetSignalHandlers() {
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
        sig == SIGPROF)
      continue;
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) != 0) continue;
    if (!(current.sa_flags & SA_SIGINFO) && (current.sa_handler == SIG_IGN || current.sa_handler == SIG_DFL)) continue;
    signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// waitpid(WNOHANG): null while running, the exit code, or -N for signal N.
Napi::Value StatusValue(Napi::Env env, int status) {
  if (WIFEXITED(status)) return Napi::Number::New(env, WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return Napi::Number::New(env, -WTERMSIG(status));
  return env.Null();
}

Napi::Value Reap(Napi::Env env, pid_t pid) {
  int status = 0;
  pid_t got;
  do got = waitpid(pid, &status, WNOHANG);
  while (got < 0 && errno == EINTR);
  if (got == 0) return env.Null();
  if (got < 0) ThrowErrno(env, "waitpid(" + std::to_string(pid) + ")");
  return StatusValue(env, status);
}

namespace {

// How many times (1 ms apart) a count above Node's own is taken again before a fork is refused.
constexpr int kSettleLooks = 100;

// Refuses (ERR_MP_FORK_UNSAFE) when this process runs threads beyond Node's own: a fork child
// would inherit their locks held forever. `expected_base`: Node's threads outside libuv's pool.
void AuditThreads(Napi::Env env, int64_t expected_base) {
  if (!OnMainThread())
    throw Napi::Error::New(env,
                           "fork is not possible from a worker_threads Worker: the child would have no main "
                           "thread. Use the 'spawn' or 'forkserver' start method");
  EnsureThreadpool(LoopOf(env));
  const int expected = static_cast<int>(expected_base) + ThreadpoolSize() + LiveWatcherThreads();
  int threads = CountThreads();
  // A thread on its way out (a runtime's short-lived helper) still shows in /proc/self/task for a
  // moment, longer on a loaded machine: look again for a while before refusing.
  for (int look = 0; threads > expected && look < kSettleLooks; look++) {
    usleep(1000);
    threads = CountThreads();
  }
  if (threads > expected) {
    Napi::Error error = Napi::Error::New(
        env, "fork refused: this process runs " + std::to_string(threads) + " threads where Node itself has " +
                 std::to_string(expected) + " (" + ThreadNames() +
                 "); the extra ones belong to a live worker_threads Worker, an attached inspector or a native "
                 "addon, and a fork child would inherit their locks held forever. Terminate them first, or use "
                 "the 'spawn' or 'forkserver' start method");
    error.Set("code", Napi::String::New(env, "ERR_MP_FORK_UNSAFE"));
    throw error;
  }
}

}  // namespace

// auditForkThreads(expectedThreads): throws as forkProcess would refuse, forks nothing (a
// forkserver tells its parent at once whether it can serve).
Napi::Value AuditForkThreads(const Napi::CallbackInfo& info) {
  AuditThreads(info.Env(), IntArg(info, 0, "auditForkThreads(expectedThreads)"));
  return info.Env().Undefined();
}

// forkProcess(expectedThreads) -> { pid, sentinel } in the parent, { pid: 0 } in the child.
Napi::Value ForkProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AuditThreads(env, IntArg(info, 0, "forkProcess(expectedThreads)"));
  uv_loop_t* loop = LoopOf(env);

  const bool use_pidfd = PidfdSupported();
  int life[2] = {-1, -1};
  if (!use_pidfd && pipe(life) != 0) ThrowErrno(env, "pipe(sentinel)");
  Fd life_read(life[0]), life_write(life[1]);
  if (life_read.fd >= 0) fcntl(life_read.fd, F_SETFD, FD_CLOEXEC);

  DoForkPass();
  KeepCachedMappingsOutOfForks();
  // Held across fork(2) so the child's copy of the loop's completed-work queue is whole: a pool
  // thread appends to it under this mutex.
  uv_mutex_lock(&loop->wq_mutex);
  pid_t pid = fork();
  if (pid != 0) uv_mutex_unlock(&loop->wq_mutex);
  if (pid < 0) ThrowErrno(env, "fork");
  Napi::Object result = Napi::Object::New(env);
  if (pid == 0) {
    uv_mutex_init(&loop->wq_mutex);  // the copy is held by a thread of the parent's
    uv_loop_fork(loop);
    // The child's wake-up eventfd is new and empty, but the flag that says a wake-up was sent is
    // the parent's: left set, no completion of the child's own pool would ever be delivered.
    loop->wq_async.pending = 0;
    if (warmup_pending != nullptr) {
      // Never completes here: queued or running, its thread is gone; done, it waits in the loop's
      // queue, and its callback belongs to the parent. Dropped as libuv's uv__req_unregister does,
      // or the child's loop would never be idle; the request itself is leaked with the parent's pool.
      uv__queue* entry = &warmup_pending->work_req.wq;
      if (InQueue(&loop->wq, entry)) {
        entry->prev->next = entry->next;
        entry->next->prev = entry->prev;
      }
      loop->active_reqs.count--;
      warmup_pending = nullptr;
    }
    threadpool_started = false;
    if (own_sentinel_write >= 0) close(own_sentinel_write);
    own_sentinel_write = life_write.release();
    if (own_sentinel_write >= 0) fcntl(own_sentinel_write, F_SETFD, FD_CLOEXEC);
    Segment::AdoptAfterFork();
    ParcelsAfterFork();
    ResetSignalHandlers();
    result.Set("pid", Napi::Number::New(env, 0));
    return result;
  }
  life_write.reset();
  int sentinel = use_pidfd ? PidfdOpen(pid) : life_read.release();
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("sentinel", Napi::Number::New(env, sentinel));
  return result;
}

// spawnProcess(file, args, fds, environment?) -> { pid, sentinel }: posix_spawn (vfork-like: no page-table copy,
// nothing but exec runs in the child) with fds[i] as fd i (also 0-2: a parent's stdio may be
// close-on-exec, and dup2 onto a new slot clears that), default signal dispositions and an
// empty mask (Node ignores SIGPIPE; a fresh node must not inherit that). We own the pid: only our
// waitpid(pid) reaps it, unlike child_process whose SIGCHLD handler would race a blocking join.
// environment ("NAME=value" strings) replaces this process's environ when given.
Napi::Value SpawnProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsArray() || !info[2].IsArray() || !(info[3].IsUndefined() || info[3].IsArray()))
    ThrowType(env, "spawnProcess(file: string, args: string[], fds: number[], environment?: string[])");
  const std::string file = info[0].As<Napi::String>();
  auto c_strings = [](Napi::Array list, std::vector<std::string>& storage) {
    for (uint32_t i = 0; i < list.Length(); i++) storage.push_back(list.Get(i).ToString());
    std::vector<char*> pointers;
    for (std::string& item : storage) pointers.push_back(item.data());
    pointers.push_back(nullptr);
    return pointers;
  };
  std::vector<std::string> args, variables;
  std::vector<char*> argv = c_strings(info[1].As<Napi::Array>(), args);
  std::vector<char*> envp = info[3].IsArray() ? c_strings(info[3].As<Napi::Array>(), variables) : std::vector<char*>();

  // Sources are first copied above every target slot, so no dup2 overwrites a later source.
  Napi::Array given = info[2].As<Napi::Array>();
  std::deque<Fd> sources;  // a deque never moves its elements (Fd is not copyable)
  const bool use_pidfd = PidfdSupported();
  int life[2] = {-1, -1};
  if (!use_pidfd && pipe2(life, O_CLOEXEC) != 0) ThrowErrno(env, "pipe(sentinel)");
  Fd life_read(life[0]), life_write(life[1]);
  const uint32_t count = given.Length() + (use_pidfd ? 0 : 1);
  for (uint32_t i = 0; i < count; i++) {
    int fd = i < given.Length() ? given.Get(i).As<Napi::Number>().Int32Value() : life_write.fd;
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, static_cast<int>(count));
    // A closed stdio fd of ours stays closed in the child.
    if (copy < 0 && !(errno == EBADF && i < 3)) ThrowErrno(env, "dup(" + std::to_string(fd) + ")");
    sources.emplace_back(copy);
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  for (uint32_t i = 0; i < count; i++)
    if (sources[i].fd >= 0) posix_spawn_file_actions_adddup2(&actions, sources[i].fd, static_cast<int>(i));
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, file.c_str(), &actions, &attributes, argv.data(), envp.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) ThrowErrno(env, "posix_spawn(" + file + ")", rc);
  life_write.reset();
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("sentinel", Napi::Number::New(env, use_pidfd ? PidfdOpen(pid) : life_read.release()));
  return result;
}

Napi::Value ThreadCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), CountThreads()); }

Napi::Value GetPid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getpid()); }

// exitNow(code): _exit, skipping atexit handlers and the joins of platform threads that a fork
// child does not have. What JS wrote is already in the kernel (on Linux Node writes stdio synchronously).
Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  int64_t code = IntArg(info, 0, "exitNow(code)");
  _exit(static_cast<int>(code & 0xff));
}

// dieWithParent(signal, parentPid): the kernel sends signal to this process when the thread that
// started it ends (prctl PR_SET_PDEATHSIG; 0 clears it). False when parentPid had already gone before
// the request took effect: the signal will never come, and the caller acts on that itself.
Napi::Value DieWithParent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t signal = IntArg(info, 0, "dieWithParent(signal, parentPid)");
  const int64_t parent = IntArg(info, 1, "dieWithParent(signal, parentPid)");
  if (signal < 0 || signal >= NSIG) throw Napi::RangeError::New(env, "dieWithParent: no signal " + std::to_string(signal));
#ifdef __linux__
  if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(signal), 0, 0, 0) != 0) ThrowErrno(env, "prctl(PR_SET_PDEATHSIG)");
#endif
  // Elsewhere there is no such request (macOS): only the check that the parent is still there.
  return Napi::Boolean::New(env, getppid() == static_cast<pid_t>(parent));
}

Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  return Reap(info.Env(), static_cast<pid_t>(IntArg(info, 0, "reap(pid)")));
}

// waitChild(pid, sentinel, timeoutMs): blocks until the child ends or the time is up (< 0: forever).
Napi::Value WaitChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const pid_t pid = static_cast<pid_t>(IntArg(info, 0, "waitChild(pid)"));
  const int sentinel = static_cast<int>(IntArg(info, 1, "waitChild(sentinel)"));
  const double timeout_ms = info[2].As<Napi::Number>().DoubleValue();
  const double deadline = MonotonicMs() + timeout_ms;
  for (;;) {
    Napi::Value code = Reap(env, pid);
    if (!code.IsNull()) return code;
    double left = timeout_ms < 0 ? -1 : deadline - MonotonicMs();
    if (timeout_ms >= 0 && left <= 0) return env.Null();
    pollfd watch{sentinel, POLLIN, 0};
    int ready = PollWithDeadline(&watch, 1, left);
    if (ready < 0) ThrowErrno(env, "poll(sentinel)");
    // A sentinel that cannot signal (closed, error): fall back to sleeping a little.
    if (ready > 0 && !(watch.revents & POLLIN)) usleep(1000);
  }
}

// Runs a JS callback from a libuv callback; a throw becomes an uncaughtException, as for any callback.
void CallFromLoop(Napi::Env env, const Napi::Function& callback) {
  try {
    callback.MakeCallback(env.Global(), {});
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

// new SentinelWatch(fd, onReady): calls onReady once when fd becomes readable (the child ended),
// from the event loop; ref'd while armed, like any pending I/O. close() stops it.
class SentinelWatch : public Napi::ObjectWrap<SentinelWatch> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "SentinelWatch", {InstanceMethod<&SentinelWatch::Close>("close")});
  }

  explicit SentinelWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SentinelWatch>(info) {
    Napi::Env env = info.Env();
    const int fd = static_cast<int>(IntArg(info, 0, "SentinelWatch(fd)"));
    if (!info[1].IsFunction()) ThrowType(env, "SentinelWatch(fd, onReady): onReady must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    poll_ = new uv_poll_t;
    poll_->data = this;
    int rc = uv_poll_init(LoopOf(env), poll_, fd);
    if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE | UV_DISCONNECT, OnReady);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      ThrowErrno(env, "uv_poll_start(sentinel)", -rc);
    }
    env_ = env;
    Ref();  // alive while armed, even if JS drops it
  }

  ~SentinelWatch() override { Stop(); }

 private:
  static void OnReady(uv_poll_t* handle, int, int) {
    auto* self = static_cast<SentinelWatch*>(handle->data);
    self->Stop();
    // A loop callback must not throw (std::terminate): when JS cannot run (a Worker being
    // terminated), nobody is left to tell.
    try {
      Napi::HandleScope scope(self->env_);
      Napi::Function callback = self->callback_.Value();
      self->callback_.Reset();
      self->Unref();
      CallFromLoop(self->env_, callback);
    } catch (const Napi::Error&) {
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) {
      Stop();
      callback_.Reset();
      Unref();
    }
    return info.Env().Undefined();
  }

  void Stop() {
    if (poll_ == nullptr) return;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }

  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::Env env_ = nullptr;
};

// new IdleWatch(onBeforeExit, onEmpty): for a fork child, whose loop must never end by itself (its
// parked platform threads never finish, so Node's final DrainTasks would wait forever). A ref'd
// async handle keeps the loop alive; before each poll, when nothing else would keep it alive (no
// active ref'd handle, no closing handle, no request), onBeforeExit runs (ticks drain after it) and,
// if still nothing is pending, onEmpty, which exits. close() stops it.
class IdleWatch : public Napi::ObjectWrap<IdleWatch> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "IdleWatch", {InstanceMethod<&IdleWatch::Close>("close")});
  }

  explicit IdleWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IdleWatch>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction() || !info[1].IsFunction())
      ThrowType(env, "IdleWatch(onBeforeExit, onEmpty): both must be functions");
    before_exit_ = Napi::Persistent(info[0].As<Napi::Function>());
    empty_ = Napi::Persistent(info[1].As<Napi::Function>());
    env_ = env;
    loop_ = LoopOf(env);
    keep_ = new uv_async_t;
    prepare_ = new uv_prepare_t;
    uv_async_init(loop_, keep_, nullptr);
    uv_prepare_init(loop_, prepare_);
    prepare_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(prepare_));
    uv_prepare_start(prepare_, OnPrepare);
    Ref();
  }

  ~IdleWatch() override { Stop(); }

 private:
  struct Census {
    const IdleWatch* self;
    bool busy;
  };

  bool LoopIsEmpty() const {
    if (loop_->active_reqs.count > 0) return false;
    // Active referenced handles besides keep_ (unref'd ones, prepare_ among them, are not counted):
    // busy, without a walk of every handle at each turn of a spinning loop.
    if (loop_->active_handles > 1) return false;
    Census census{this, false};
    uv_walk(
        loop_,
        [](uv_handle_t* handle, void* arg) {
          auto* census = static_cast<Census*>(arg);
          if (handle == reinterpret_cast<uv_handle_t*>(census->self->keep_) ||
              handle == reinterpret_cast<uv_handle_t*>(census->self->prepare_))
            return;
          if (uv_is_closing(handle) || (uv_is_active(handle) && uv_has_ref(handle))) census->busy = true;
        },
        &census);
    return !census.busy;
  }

  static void OnPrepare(uv_prepare_t* handle) {
    auto* self = static_cast<IdleWatch*>(handle->data);
    if (!self->LoopIsEmpty()) return;
    Napi::HandleScope scope(self->env_);
    CallFromLoop(self->env_, self->before_exit_.Value());
    if (self->prepare_ != nullptr && self->LoopIsEmpty()) CallFromLoop(self->env_, self->empty_.Value());
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (prepare_ != nullptr) {
      Stop();
      Unref();
    }
    return info.Env().Undefined();
  }

  void Stop() {
    if (prepare_ == nullptr) return;
    uv_close(reinterpret_cast<uv_handle_t*>(prepare_), [](uv_handle_t* h) { delete reinterpret_cast<uv_prepare_t*>(h); });
    uv_close(reinterpret_cast<uv_handle_t*>(keep_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    prepare_ = nullptr;
    keep_ = nullptr;
  }

  uv_loop_t* loop_ = nullptr;
  uv_async_t* keep_ = nullptr;
  uv_prepare_t* prepare_ = nullptr;
  Napi::FunctionReference before_exit_;
  Napi::FunctionReference empty_;
  Napi::Env env_ = nullptr;
};

}  // namespace

void InitFork(Napi::Env env, Napi::Object exports) {
  exports.Set("forkProcess", Napi::Function::New(env, ForkProcess, "forkProcess"));
  exports.Set("auditForkThreads", Napi::Function::New(env, AuditForkThreads, "auditForkThreads"));
  exports.Set("threadCount", Napi::Function::New(env, ThreadCount, "threadCount"));
  exports.Set("getpid", Napi::Function::New(env, GetPid, "getpid"));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
  exports.Set("reap", Napi::Function::New(env, ReapChild, "reap"));
  exports.Set("dieWithParent", Napi::Function::New(env, DieWithParent, "dieWithParent"));
  exports.Set("waitChild", Napi::Function::New(env, WaitChild, "waitChild"));
  exports.Set("SentinelWatch", SentinelWatch::Init(env));
  exports.Set("IdleWatch", IdleWatch::Init(env));
  exports.Set("spawnProcess", Napi::Function::New(env, SpawnProcess, "spawnProcess"));
}

}  // namespace mp
