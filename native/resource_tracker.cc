// The tracker child is forked straight from native code and never runs JavaScript: it uses only
// system calls and memory reserved before the fork, so the parent's other threads cannot hang it.
#include "resource_tracker.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <cerrno>
#include <cstring>
#include <mutex>

#include "deadline.h"
#include "errors.h"
#include "shm.h"

namespace mp {
namespace {

constexpr int kMaxTracked = 32768;
constexpr size_t kNameMax = 112;  // a socket path (sun_path is 108 bytes) or a segment name
// How long the tracker waits, after the tree is gone, for users that are still exiting.
constexpr double kSweepMs = 3000;

// The tracker's table; static so the child needs no allocation. A managed segment counts the
// processes that use it; a raw one (a user's SharedMemory) is registered once by its creator and
// unregistered by unlink(), as CPython's tracker does; so is the socket file of a Listener at an
// address we made up (CPython's live in a temporary directory its parent removes at exit).
enum class Kind : char { kManaged, kRaw, kSocketFile };
struct Entry {
  char name[kNameMax];
  int uses;
  Kind kind;
};
Entry table[kMaxTracked];

std::mutex start_mutex;
int tracker_fd = -1;

// Lines: '+name' / '-name' count a use of a managed segment; 'R name' / 'U name' register and
// unregister a raw one; 'S path' / 'X path' a socket file.
void Apply(char op, const char* name) {
  const Kind kind = op == 'R' || op == 'U' ? Kind::kRaw : op == 'S' || op == 'X' ? Kind::kSocketFile : Kind::kManaged;
  const bool adds = op == '+' || op == 'R' || op == 'S';
  int free_slot = -1;
  for (int i = 0; i < kMaxTracked; i++) {
    if (table[i].uses > 0 && table[i].kind == kind && strcmp(table[i].name, name) == 0) {
      if (kind != Kind::kManaged) table[i].uses = adds ? 1 : 0;
      else table[i].uses += adds ? 1 : -1;
      return;
    }
    if (free_slot < 0 && table[i].uses <= 0) free_slot = i;
  }
  if (adds && free_slot >= 0) {
    strncpy(table[free_slot].name, name, kNameMax - 1);
    table[free_slot].name[kNameMax - 1] = 0;
    table[free_slot].uses = 1;
    table[free_slot].kind = kind;
  }
}

[[noreturn]] void RunTracker(int input) {
#ifdef __linux__
  prctl(PR_SET_NAME, "mpjs-tracker", 0, 0, 0);
#endif
  setsid();  // out of the parent's process group: a Ctrl-C or group kill must not take it down
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  int devnull = open("/dev/null", O_RDWR);
  dup2(input, 0);
  if (devnull >= 0) dup2(devnull, 1);
  // Keep only stdin (our pipe), stdout (/dev/null) and stderr: the parent's sockets must close.
#if defined(__linux__) && defined(SYS_close_range)
  if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
    for (int fd = 3; fd < 65536; fd++) close(fd);

  char buffer[8192];
  size_t filled = 0;
  for (;;) {
    ssize_t got = read(0, buffer + filled, sizeof(buffer) - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    filled += static_cast<size_t>(got);
    size_t start = 0;
    for (size_t i = 0; i < filled; i++) {
      if (buffer[i] != '\n') continue;
      buffer[i] = 0;
      if (i > start + 1) Apply(buffer[start], buffer + start + 1);
      start = i + 1;
    }
    memmove(buffer, buffer + start, filled - start);
    filled -= start;
    if (filled == sizeof(buffer)) filled = 0;  // a line longer than any name: drop it
  }
  // Every process of the tree has closed its end — which an exiting process does before the
  // kernel marks it dead, so a user may still look alive for a moment (long under load): re-check
  // the segments still in use for a while, unlinking each once no live process uses it.
  const double deadline = MonotonicMs() + kSweepMs;
  for (;;) {
    bool pending = false;
    for (auto& entry : table) {
      if (entry.uses <= 0) continue;
      // A raw segment or socket file still registered was never unlinked: its creator's tree is gone, so is it.
      if (entry.kind == Kind::kSocketFile) {
        unlink(entry.name);
        entry.uses = 0;
      } else if (entry.kind == Kind::kRaw || SegmentUnused(entry.name)) {
        shm_unlink(entry.name);
        entry.uses = 0;
      } else {
        pending = true;
      }
    }
    if (!pending || MonotonicMs() >= deadline) break;
    usleep(20000);
  }
  _exit(0);
}

int StartTracker() {
  int fds[2];
#ifdef __linux__
  if (pipe2(fds, O_CLOEXEC) != 0) throw CallFailed(errno, "pipe2(resource tracker)");
#else
  if (pipe(fds) != 0) throw CallFailed(errno, "pipe(resource tracker)");
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
#endif
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    throw CallFailed(err, "fork(resource tracker)");
  }
  if (pid == 0) {
    close(fds[1]);
    RunTracker(fds[0]);
  }
  close(fds[0]);
  return fds[1];
}

}  // namespace

void EnsureTracker() {
  std::lock_guard<std::mutex> lock(start_mutex);
  if (tracker_fd < 0) tracker_fd = StartTracker();
}

namespace {

void Send(char op, const std::string& name) {
  if (name.size() + 2 > kNameMax) return;
  const std::string line = op + name + "\n";
  std::lock_guard<std::mutex> lock(start_mutex);
  if (tracker_fd < 0) tracker_fd = StartTracker();
  // One write below PIPE_BUF is atomic, so lines from many threads and processes never mix.
  for (bool relaunched = false;;) {
    if (write(tracker_fd, line.data(), line.size()) >= 0) return;
    if (errno == EINTR) continue;
    if (errno != EPIPE || relaunched) return;
    // The tracker was killed. As CPython's does, start another: what the dead one tracked may leak.
    close(tracker_fd);
    tracker_fd = -1;
    tracker_fd = StartTracker();
    relaunched = true;
    static const char kWarning[] = "multiprocess: the resource tracker died; relaunched it (shared memory it tracked may leak)\n";
    if (write(STDERR_FILENO, kWarning, sizeof(kWarning) - 1) < 0) {
    }
  }
}

}  // namespace

void TrackSegment(const std::string& name, bool add) { Send(add ? '+' : '-', name); }

void TrackRawSegment(const std::string& name, bool add) { Send(add ? 'R' : 'U', name); }

void TrackSocketFile(const std::string& path, bool add) { Send(add ? 'S' : 'X', path); }

namespace {

Napi::Value TrackerFd(const Napi::CallbackInfo& info) {
  try {
    EnsureTracker();
  } catch (const CallFailed& failed) {
    ThrowErrno(info.Env(), failed);
  }
  return Napi::Number::New(info.Env(), tracker_fd);
}

Napi::Value AdoptTracker(const Napi::CallbackInfo& info) {
  const int fd = static_cast<int>(IntArg(info, 0, "fd"));
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) ThrowErrno(info.Env(), "adoptTracker(fcntl)");
  std::lock_guard<std::mutex> lock(start_mutex);
  if (tracker_fd >= 0 && tracker_fd != fd) close(tracker_fd);
  tracker_fd = fd;
  return info.Env().Undefined();
}

// trackRawSegment(name, add): a user's SharedMemory, registered by its creator, unregistered by
// unlink(); trackSocketFile(path, add): a Listener's socket file, unregistered once it removed it.
// The tracker removes those still registered once the tree is gone.
template <void (*Track)(const std::string&, bool)>
Napi::Value TrackJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean()) ThrowType(info.Env(), "expected (name: string, add: boolean)");
  try {
    Track(info[0].As<Napi::String>(), info[1].As<Napi::Boolean>());
  } catch (const CallFailed& failed) {
    ThrowErrno(info.Env(), failed);
  }
  return info.Env().Undefined();
}

}  // namespace

void InitResourceTracker(Napi::Env env, Napi::Object exports) {
  exports.Set("trackerFd", Napi::Function::New(env, TrackerFd, "trackerFd"));
  exports.Set("adoptTracker", Napi::Function::New(env, AdoptTracker, "adoptTracker"));
  exports.Set("trackRawSegment", Napi::Function::New(env, TrackJs<TrackRawSegment>, "trackRawSegment"));
  exports.Set("trackSocketFile", Napi::Function::New(env, TrackJs<TrackSocketFile>, "trackSocketFile"));
}

}  // namespace mp
