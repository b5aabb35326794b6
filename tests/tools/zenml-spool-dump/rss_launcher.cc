// rss_launcher PROGRAM ARGS...: runs PROGRAM with stdout and stderr on
// /dev/null and prints "<exit code> <peak RSS in KiB>" of it.
//
// Linux keeps ru_maxrss across fork and exec, so a child forked straight
// from a big test process reports the test's own size. This launcher is
// small: a child forked from it reports what the program itself used.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) return 64;
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    execv(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  if (wait4(pid, &status, 0, &usage) != pid) return 70;
  std::printf("%d %ld\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              usage.ru_maxrss);
  return 0;
}
