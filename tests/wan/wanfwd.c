/* ferry-wanfwd: the WAN test bed's links (scripts/wan.sh, docs/testing.md
 * "WAN test bed"). Each link is a pair of TUN devices, one in each of two
 * network namespaces; every IP packet the kernel routes into one end is held
 * for the link's one-way delay (with jitter, in order) and then written into
 * the other end, where the kernel goes on routing it. TCP stays end to end:
 * nothing is split, acknowledged or retransmitted here. Rates (tc tbf on the
 * devices) and loss (iptables statistic) are set by scripts/wan.sh.
 *
 *   ferry-wanfwd CONFIG
 *   CONFIG lines:  link NAME NS_A IF_A NS_B IF_B DELAY_US JITTER_US
 *                  (NS "-" = the namespace ferry-wanfwd runs in)
 * Prints "ready" on stdout once every device exists. SIGHUP re-reads CONFIG
 * and applies the delays of the links it names (a scenario's RTT change);
 * SIGTERM/SIGINT end it, and the devices go with it. Counters go to stderr at
 * exit and on SIGUSR1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "delayq.h"

#define MAX_LINKS 32
#define QUEUE_CAP 40000 /* packets per direction: seconds of a 200 Mbit/s link */

typedef struct {
  char name[32];
  int fd[2];     /* end A, end B */
  delayq q[2];   /* q[0]: A -> B, q[1]: B -> A */
} link_t;

static link_t links[MAX_LINKS];
static int n_links;
static volatile sig_atomic_t want_stop, want_reload, want_stats;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double uniform01(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

/* open_tun NS IFNAME: a TUN device (IP packets, no header) made in netns NS. */
static int open_tun(const char *ns, const char *ifname) {
  int self = -1, target = -1, fd = -1;
  if (strcmp(ns, "-") != 0) {
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    target = open(path, O_RDONLY | O_CLOEXEC);
    if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
      fprintf(stderr, "ferry-wanfwd: cannot enter netns %s: %s\n", ns, strerror(errno));
      goto out;
    }
  }
  fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI};
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) != 0) {
    fprintf(stderr, "ferry-wanfwd: cannot make TUN %s in %s: %s\n", ifname, ns, strerror(errno));
    if (fd >= 0) close(fd);
    fd = -1;
  }
  if (self >= 0 && setns(self, CLONE_NEWNET) != 0) {
    fprintf(stderr, "ferry-wanfwd: cannot return to own netns: %s\n", strerror(errno));
    if (fd >= 0) close(fd);
    fd = -1;
  }
out:
  if (self >= 0) close(self);
  if (target >= 0) close(target);
  return fd;
}

static link_t *find_link(const char *name) {
  for (int i = 0; i < n_links; i++)
    if (strcmp(links[i].name, name) == 0) return &links[i];
  return NULL;
}

/* read_config PATH CREATE: CREATE makes the links; otherwise the delays of
 * existing ones are updated. Returns 0, or -1 with a message naming the line. */
static int read_config(const char *path, int create) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "ferry-wanfwd: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[512];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    char name[32], nsa[64], ifa[IFNAMSIZ], nsb[64], ifb[IFNAMSIZ];
    unsigned long long d_us, j_us;
    if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0') continue;
    if (sscanf(line, "link %31s %63s %15s %63s %15s %llu %llu", name, nsa, ifa, nsb, ifb, &d_us,
               &j_us) != 7) {
      fprintf(stderr, "ferry-wanfwd: %s:%d: want 'link NAME NS_A IF_A NS_B IF_B DELAY_US JITTER_US'\n",
              path, lineno);
      rc = -1;
      break;
    }
    link_t *l = find_link(name);
    if (!create) {
      if (!l) continue;
      for (int k = 0; k < 2; k++) {
        l->q[k].delay_ns = d_us * 1000;
        l->q[k].jitter_ns = j_us * 1000;
      }
      continue;
    }
    if (l || n_links == MAX_LINKS) {
      fprintf(stderr, "ferry-wanfwd: %s:%d: link %s repeated or more than %d links\n", path, lineno,
              name, MAX_LINKS);
      rc = -1;
      break;
    }
    l = &links[n_links];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->fd[0] = open_tun(nsa, ifa);
    l->fd[1] = l->fd[0] >= 0 ? open_tun(nsb, ifb) : -1;
    if (l->fd[1] < 0) {
      rc = -1;
      break;
    }
    for (int k = 0; k < 2; k++) delayq_init(&l->q[k], QUEUE_CAP, d_us * 1000, j_us * 1000);
    n_links++;
  }
  fclose(f);
  return rc;
}

/* drain: reads every packet waiting on end `from` of link l into its queue. */
static void drain(link_t *l, int from) {
  delayq *q = &l->q[from];
  for (;;) {
    dq_pkt *p = delayq_slot(q);
    unsigned char scratch[DELAYQ_MTU];
    ssize_t n = read(l->fd[from], p ? p->data : scratch, DELAYQ_MTU);
    if (n <= 0) {
      if (p) delayq_unslot(q, p);
      return;
    }
    if (!p) {
      q->dropped++;
      continue;
    }
    p->len = (size_t)n;
    delayq_push(q, p, now_ns(), uniform01());
  }
}

/* release: writes every due packet to the other end; returns the earliest
 * release time still queued. */
static uint64_t release(uint64_t now) {
  uint64_t next = UINT64_MAX;
  for (int i = 0; i < n_links; i++) {
    for (int k = 0; k < 2; k++) {
      delayq *q = &links[i].q[k];
      dq_pkt *p;
      while ((p = delayq_due(q, now))) {
        if (write(links[i].fd[1 - k], p->data, p->len) < 0) q->dropped++;
        delayq_pop(q);
      }
      uint64_t t = delayq_next_ns(q);
      if (t < next) next = t;
    }
  }
  return next;
}

static void print_stats(void) {
  for (int i = 0; i < n_links; i++)
    for (int k = 0; k < 2; k++)
      fprintf(stderr, "ferry-wanfwd: link=%s dir=%s in=%llu out=%llu dropped=%llu queued=%zu\n",
              links[i].name, k ? "b->a" : "a->b", (unsigned long long)links[i].q[k].in,
              (unsigned long long)links[i].q[k].out, (unsigned long long)links[i].q[k].dropped,
              links[i].q[k].n);
}

static void on_signal(int sig) {
  if (sig == SIGHUP) want_reload = 1;
  else if (sig == SIGUSR1) want_stats = 1;
  else want_stop = 1;
}

static int setup_epoll(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; ep >= 0 && i < n_links; i++)
    for (int k = 0; k < 2; k++) {
      struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(i * 2 + k)};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, links[i].fd[k], &ev) != 0) return -1;
    }
  return ep;
}

static void run(int ep, const char *config) {
  struct epoll_event evs[64];
  uint64_t next = UINT64_MAX;
  while (!want_stop) {
    uint64_t now = now_ns();
    struct timespec ts = {1, 0};
    if (next != UINT64_MAX) {
      uint64_t w = next > now ? next - now : 0;
      if (w < 1000000000ull) ts = (struct timespec){0, (long)w};
    }
    int n = epoll_pwait2(ep, evs, 64, &ts, NULL);
    for (int i = 0; i < n; i++) drain(&links[evs[i].data.u32 / 2], (int)(evs[i].data.u32 % 2));
    next = release(now_ns());
    if (want_reload) {
      want_reload = 0;
      if (read_config(config, 0) == 0) fprintf(stderr, "ferry-wanfwd: delays reloaded\n");
    }
    if (want_stats) {
      want_stats = 0;
      print_stats();
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: ferry-wanfwd CONFIG (lines: link NAME NS_A IF_A NS_B IF_B DELAY_US JITTER_US)\n");
    return 2;
  }
  prctl(PR_SET_TIMERSLACK, 1UL);
  rng ^= now_ns() ^ ((uint64_t)getpid() << 32);
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  if (read_config(argv[1], 1) != 0 || n_links == 0) {
    fprintf(stderr, "ferry-wanfwd: no links made from %s\n", argv[1]);
    return 1;
  }
  int ep = setup_epoll();
  if (ep < 0) {
    fprintf(stderr, "ferry-wanfwd: epoll: %s\n", strerror(errno));
    return 1;
  }
  printf("ready %d links\n", n_links);
  fflush(stdout);
  run(ep, argv[1]);
  print_stats();
  for (int i = 0; i < n_links; i++)
    for (int k = 0; k < 2; k++) delayq_free(&links[i].q[k]);
  return 0;
}
