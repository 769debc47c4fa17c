// cpuCount() honours the affinity mask and cgroup CPU quotas, as os.process_cpu_count() plus containers;
// the executable is the node binary used for spawn/forkserver children (setExecutable).
#include "system.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/random.h>
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "errors.h"

namespace mp {
namespace {

std::string executable_path;

int AffinityCount() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
#endif
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online) : 1;
}

// cgroup v2 "cpu.max" holds "max 100000" or "<quota> <period>"; v1 splits them into two files.
int CgroupLimit() {
  double quota = -1, period = -1;
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  if (v2) {
    std::string q;
    v2 >> q >> period;
    if (q != "max") quota = std::atof(q.c_str());
  } else {
    std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    if (q1 && p1) q1 >> quota, p1 >> period;
  }
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::ceil(quota / period));
}

Napi::Value CpuCount(const Napi::CallbackInfo& info) {
  int count = AffinityCount();
  int limit = CgroupLimit();
  if (limit > 0 && limit < count) count = limit;
  return Napi::Number::New(info.Env(), count < 1 ? 1 : count);
}

Napi::Value SetExecutable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) ThrowType(env, "setExecutable(path): path must be a string");
  std::string path = info[0].As<Napi::String>();
  if (access(path.c_str(), X_OK) != 0) ThrowErrno(env, "setExecutable: access(" + path + ", X_OK)");
  executable_path = path;
  return env.Undefined();
}

Napi::Value GetExecutable(const Napi::CallbackInfo& info) {
  if (executable_path.empty()) return info.Env().Null();
  return Napi::String::New(info.Env(), executable_path);
}

}  // namespace

namespace {
// The fields of /proc/<pid>/stat after the parenthesised command name (which may itself hold ')'),
// read into `line`; nullptr when there is no such process (or no /proc), with errno set.
const char* StatFields(pid_t pid, char (&line)[512]) {
#ifdef __linux__
  char path[32];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  ssize_t length = read(fd, line, sizeof(line) - 1);
  close(fd);
  if (length <= 0) return nullptr;
  line[length] = 0;
  const char* close_paren = strrchr(line, ')');
  if (close_paren != nullptr && close_paren[1] == ' ' && close_paren[2] != 0) return close_paren + 2;
#endif
  errno = EINVAL;
  return nullptr;
}
}  // namespace

// Only system calls and stack memory, here and in ProcessAlive: the resource tracker calls them in a forked child.
namespace {
// Field 22 of a stat line, from its field 3.
uint64_t StartTimeField(const char* field) {
  for (int skip = 3; field != nullptr && skip < 22; skip++) {
    field = strchr(field, ' ');
    if (field != nullptr) field++;
  }
  return field == nullptr ? 0 : strtoull(field, nullptr, 10);
}
}  // namespace

uint64_t ProcessStartTime(pid_t pid) {
  char line[512];
  const char* fields = StatFields(pid, line);
  return fields == nullptr ? 0 : StartTimeField(fields);
}

// A pid of ours is a thread group id. Threads take ids from the same space (a Node process has ~10),
// so once ids wrap a dead user's pid is most often reused by some thread, which kill(pid, 0) would
// call alive: tgkill(pid, pid) is only alive for a thread group leader.
bool ProcessAlive(pid_t pid, uint64_t started) {
  if (pid <= 0) return false;
#ifdef __linux__
  if (syscall(SYS_tgkill, pid, pid, 0) != 0 && errno == ESRCH) return false;
#else
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
#endif
  char line[512];
  const char* state = StatFields(pid, line);
  if (state == nullptr) return errno != ENOENT;
  if (*state == 'Z' || *state == 'X') return false;
  return started == 0 || StartTimeField(state) == started;
}

Napi::Value ProcessAliveJs(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ProcessAlive(static_cast<pid_t>(IntArg(info, 0, "pid"))));
}

// randomBytes(size): bytes from the kernel's random source, for kernel object names, tokens and
// keys: loading node:crypto for them cost every process ~3 ms of its start.
Napi::Value RandomBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t size = IntArg(info, 0, "randomBytes(size)");
  if (size < 0 || size > 65536) throw Napi::RangeError::New(env, "randomBytes: size must be 0 to 65536");
  Napi::Buffer<uint8_t> bytes = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(size));
  // getentropy fills at most 256 bytes a call.
  for (size_t done = 0; done < static_cast<size_t>(size); done += 256)
    if (getentropy(bytes.Data() + done, std::min<size_t>(256, static_cast<size_t>(size) - done)) != 0) ThrowErrno(env, "getentropy");
  return bytes;
}

void InitSystem(Napi::Env env, Napi::Object exports) {
  exports.Set("randomBytes", Napi::Function::New(env, RandomBytes, "randomBytes"));
  exports.Set("processAlive", Napi::Function::New(env, ProcessAliveJs, "processAlive"));
  exports.Set("cpuCount", Napi::Function::New(env, CpuCount, "cpuCount"));
  exports.Set("setExecutable", Napi::Function::New(env, SetExecutable, "setExecutable"));
  exports.Set("getExecutable", Napi::Function::New(env, GetExecutable, "getExecutable"));
}

}  // namespace mp
