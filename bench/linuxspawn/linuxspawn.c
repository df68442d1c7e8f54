/*
 * linuxspawn: spawn + wait of a static program without libc, on Linux,
 * the way posix_spawn does it (clone with CLONE_VM | CLONE_VFORK onto a
 * stack of its own, then execve), timed with rdtsc: what ipcbench's
 * spawn + wait of `true` is compared with. No libc: built with
 * `cc -static -nostdlib`, it is also the program it spawns (given one
 * argument, it exits at once).
 *
 * Usage: linuxspawn RUNS. Prints
 *   linuxspawn: spawn + wait: median N cycles, p99 N cycles over RUNS runs
 */

#define CLONE_VM 0x100
#define CLONE_VFORK 0x4000
#define SIGCHLD 17
#define MAX_RUNS 4096
#define WARMUP 10

static unsigned long samples[MAX_RUNS];
static char child_stack[16384] __attribute__((aligned(16)));
static char out[256];

static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static void exit_now(int status) {
    for (;;) sys3(60, status, 0, 0);
}

static unsigned long rdtsc(void) {
    unsigned int lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((unsigned long)hi << 32) | lo;
}

/* clone onto `child_stack`; the child execs `path` (or exits 127). */
static long spawn(const char *path, char **argv, char **envp) {
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    register char **r12 __asm__("r12") = argv;
    register char **r13 __asm__("r13") = envp;
    long pid;
    __asm__ volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "mov %%rbx, %%rdi\n\t"
        "mov %%r12, %%rsi\n\t"
        "mov %%r13, %%rdx\n\t"
        "mov $59, %%eax\n\t"
        "syscall\n\t"
        "mov $127, %%edi\n\t"
        "mov $60, %%eax\n\t"
        "syscall\n\t"
        "1:"
        : "=a"(pid)
        : "a"(56L), "D"((long)(CLONE_VM | CLONE_VFORK | SIGCHLD)), "S"(child_stack + sizeof child_stack),
          "d"(0L), "r"(r10), "r"(r8), "b"(path), "r"(r12), "r"(r13)
        : "rcx", "r11", "memory");
    return pid;
}

static long wait_for(long pid) {
    register long r10 __asm__("r10") = 0;
    long r;
    int status = 0;
    __asm__ volatile("syscall" : "=a"(r) : "a"(61L), "D"(pid), "S"(&status), "d"(0L), "r"(r10) : "rcx", "r11", "memory");
    return r < 0 ? r : status;
}

static int put_num(char *p, unsigned long v) {
    char tmp[24];
    int n = 0, i = 0;
    do { tmp[n++] = '0' + v % 10; v /= 10; } while (v);
    while (n) p[i++] = tmp[--n];
    return i;
}

static int put_str(char *p, const char *s) {
    int i = 0;
    while (s[i]) { p[i] = s[i]; i++; }
    return i;
}

static void sort(unsigned long *v, int n) {
    for (int i = 1; i < n; i++) {
        unsigned long x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) { v[j + 1] = v[j]; j--; }
        v[j + 1] = x;
    }
}

static int parse(const char *s) {
    int v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return v;
}

void start(long *sp) {
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc == 2 && argv[1][0] == 'c') exit_now(0); /* the spawned program */
    int runs = argc > 1 ? parse(argv[1]) : 200;
    if (runs < 1 || runs > MAX_RUNS) runs = 200;
    char *child_argv[] = {argv[0], "child", 0};
    for (int i = 0; i < WARMUP + runs; i++) {
        unsigned long t0 = rdtsc();
        long pid = spawn(argv[0], child_argv, envp);
        long status = pid > 0 ? wait_for(pid) : -1;
        unsigned long t = rdtsc() - t0;
        if (pid <= 0 || status != 0) {
            int n = put_str(out, "linuxspawn: a spawn failed\n");
            sys3(1, 1, (long)out, n);
            exit_now(1);
        }
        if (i >= WARMUP) samples[i - WARMUP] = t;
    }
    sort(samples, runs);
    int n = put_str(out, "linuxspawn: spawn + wait: median ");
    n += put_num(out + n, samples[runs / 2]);
    n += put_str(out + n, " cycles, p99 ");
    n += put_num(out + n, samples[runs * 99 / 100]);
    n += put_str(out + n, " cycles over ");
    n += put_num(out + n, runs);
    n += put_str(out + n, " runs\n");
    sys3(1, 1, (long)out, n);
    exit_now(0);
}

__asm__(".globl _start\n_start:\n\txor %rbp, %rbp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start\n\thlt\n");
