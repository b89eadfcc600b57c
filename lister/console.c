/*
 * console.c: ferry-lister --submit/--start/--pause/--resume/--cancel/
 * --retry/--limits: one command to the console's master through the
 * control topic, then its ack (docs/lister.md, "Master").
 *
 * The reader of control opens (its end marked) before the command is sent,
 * so the ack cannot slip past it; acks are matched by the command's id.
 */
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus/control.h"
#include "conf/busconf.h"
#include "core/log.h"
#include "lister/console.h"

static char *read_spec(const char *path, char *eb) {
  json_error_t je;
  json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &je)
                                     : json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  char *s;
  if (!j) {
    ferry_seterr(eb, FERRY_ERR_PARSE, "%s: %s (line %d)", path, je.text, je.line);
    return NULL;
  }
  if (!json_is_object(j) || !json_is_string(json_object_get(j, "name"))) {
    ferry_seterr(eb, FERRY_ERR_INVALID, "%s: a task spec is a JSON object with a \"name\"",
                 path);
    json_decref(j);
    return NULL;
  }
  s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  return s;
}

static void who(char *out, size_t n) {
  struct passwd *pw = getpwuid(getuid());
  const char *user = pw && pw->pw_name ? pw->pw_name : getenv("USER");
  char host[64];
  if (gethostname(host, sizeof(host))) snprintf(host, sizeof(host), "localhost");
  host[sizeof(host) - 1] = 0;
  snprintf(out, n, "cli:%s@%s", user ? user : "?", host);
}

/* Waits for the ack of id; 1 and *ack filled when it came. */
static int wait_ack(bus_consumer_t *r, const char *id, int wait_s, msg_control_t *ack) {
  int64_t deadline = ferry_mono_ms() + (int64_t)wait_s * 1000;
  while (ferry_mono_ms() < deadline) {
    bus_msg_t *b = NULL;
    char eb[FERRY_ERRLEN];
    ferry_err_t e = bus_consumer_poll(r, 200, &b, eb);
    if (e == FERRY_ERR_TIMEOUT) continue;
    if (e) {
      fprintf(stderr, "ferry-lister: control topic: %s\n", eb);
      return 0;
    }
    if (b->value && msg_control_decode(b->value, b->len, ack, eb) == FERRY_OK) {
      if (ack->is_ack && strcmp(ack->id, id) == 0) {
        bus_msg_destroy(b);
        return 1;
      }
      msg_control_release(ack);
    }
    bus_msg_destroy(b);
  }
  return 0;
}

static int send_cmd(bus_conf_t *bc, const msg_control_t *c, char *eb) {
  char *v = msg_control_encode(c);
  bus_producer_t *p;
  ferry_err_t e;
  if (!v) {
    ferry_seterr(eb, FERRY_ERR_INVALID, "the command cannot be encoded (not UTF-8?)");
    return -1;
  }
  p = bus_producer_new(bc, NULL, NULL, eb);
  e = p ? bus_producer_send(p, BUS_CONTROL, c->task, v, strlen(v), NULL, eb) : FERRY_ERR_KAFKA;
  if (!e) e = bus_producer_flush(p, 30000, eb);
  bus_producer_destroy(p);
  fx_free(v);
  return e ? -1 : 0;
}

int lister_command(const ferry_conf_t *conf, const console_cmd_t *cc) {
  static const bus_topic_t topics[] = {BUS_CONTROL};
  msg_control_t c, ack;
  bus_conf_t bc;
  bus_consumer_t *r = NULL;
  char eb[FERRY_ERRLEN], id[17], by[200];
  json_t *j;
  int rc = CONSOLE_EXIT_NOACK, wait_s = cc->wait_s > 0 ? cc->wait_s : 30;
  memset(&c, 0, sizeof(c));
  c.cmd = cc->cmd;
  if (cc->cmd == CTL_CREATE) {
    if (!(c.spec = read_spec(cc->spec_file, eb))) {
      fprintf(stderr, "ferry-lister: --submit: %s\n", eb);
      return CONSOLE_EXIT_REFUSED;
    }
    j = json_loads(c.spec, 0, NULL);
    c.task = fx_strdup(json_string_value(json_object_get(j, "name")));
    json_decref(j);
  } else {
    c.task = fx_strdup(cc->task);
  }
  if (cc->cmd == CTL_LIMITS) {
    c.has_limits = 1;
    ctl_limits_copy(&c.limits, &cc->limits);
  }
  ctl_new_id(id);
  who(by, sizeof(by));
  c.id = fx_strdup(id);
  c.by = fx_strdup(by);
  c.at_ms = ferry_wall_ms();
  if (bus_conf_from_kafka(&bc, &conf->kafka, eb)) {
    fprintf(stderr, "ferry-lister: %s\n", eb);
    msg_control_release(&c);
    return CONSOLE_EXIT_NOACK;
  }
  /* A fresh cluster: the topics made (a no-op where they exist), so that a
   * command sent before any master starts waits for it. */
  r = bus_topics_create(&bc, eb) ? NULL : bus_reader_new(&bc, topics, 1, NULL, NULL, eb);
  if (!r || send_cmd(&bc, &c, eb)) {
    fprintf(stderr, "ferry-lister: %s%s\n", eb,
            r ? "" : " (the control topic could not be read)");
  } else if (!wait_ack(r, id, wait_s, &ack)) {
    fprintf(stderr, "ferry-lister: %s %s: no ack within %d s (command %s): is a master "
            "running (ferry-lister --serve)? The command stays in the control topic: a master "
            "applies it when it starts\n", ctl_cmd_str(c.cmd), c.task, wait_s, id);
  } else {
    if (ack.ok)
      printf("%s %s: ok (command %s, %s)\n", ctl_cmd_str(c.cmd), c.task, id, ack.by);
    else
      printf("%s %s: refused: %s (command %s, %s)\n", ctl_cmd_str(c.cmd), c.task,
             ack.error ? ack.error : "?", id, ack.by);
    rc = ack.ok ? CONSOLE_EXIT_OK : CONSOLE_EXIT_REFUSED;
    msg_control_release(&ack);
  }
  bus_consumer_destroy(r);
  bus_conf_release(&bc);
  msg_control_release(&c);
  return rc;
}
