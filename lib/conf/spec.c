/*
 * spec.c: console task specs checked by the config loader itself
 * (config.h, conf_load_spec). The JSON spec becomes a libconfig group in a
 * re-read of the master's config file; conf_load_cfg then runs every check
 * of a `tasks` entry, so a spec is refused with exactly the words the file
 * would get.
 */
#include "conf/config.h"
#include "conf/confint.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int add_json(config_setting_t *parent, const char *name, json_t *v,
                    const char *path, fbuf_t *errors);

/* libconfig's setting names: a letter or '*', then letters, digits, '-',
 * '_', '*'. Anything else could not come from a file either. */
static int name_ok(const char *s) {
  const char *p;
  if (!*s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '*')) return 0;
  for (p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_' || *p == '*'))
      return 0;
  return 1;
}

static int scalar_type(json_t *v) {
  switch (json_typeof(v)) {
    case JSON_STRING: return CONFIG_TYPE_STRING;
    case JSON_INTEGER:
      return json_integer_value(v) >= INT_MIN && json_integer_value(v) <= INT_MAX
                 ? CONFIG_TYPE_INT
                 : CONFIG_TYPE_INT64;
    case JSON_REAL: return CONFIG_TYPE_FLOAT;
    case JSON_TRUE:
    case JSON_FALSE: return CONFIG_TYPE_BOOL;
    default: return -1;
  }
}

/* An array whose elements are scalars of one type is a libconfig array
 * ([ ... ], as the file writes string lists); any other a list. */
static int array_type(json_t *v) {
  size_t i, n = json_array_size(v);
  int t = n ? scalar_type(json_array_get(v, 0)) : CONFIG_TYPE_ARRAY;
  for (i = 1; i < n && t >= 0; i++)
    if (scalar_type(json_array_get(v, i)) != t) t = -1;
  return t >= 0 ? CONFIG_TYPE_ARRAY : CONFIG_TYPE_LIST;
}

static int add_members(config_setting_t *s, json_t *v, const char *path, fbuf_t *errors) {
  char ep[512];
  int rc = 0;
  if (json_is_object(v)) {
    const char *k;
    json_t *m;
    json_object_foreach(v, k, m) {
      snprintf(ep, sizeof(ep), "%s.%s", path, k);
      if (!name_ok(k)) {
        fbuf_addf(errors, "%s: unknown key \"%s\"\n", path, k);
        rc = -1;
        continue;
      }
      if (add_json(s, k, m, ep, errors)) rc = -1;
    }
  } else {
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
      snprintf(ep, sizeof(ep), "%s[%zu]", path, i);
      if (add_json(s, NULL, m, ep, errors)) rc = -1;
    }
  }
  return rc;
}

static int add_json(config_setting_t *parent, const char *name, json_t *v,
                    const char *path, fbuf_t *errors) {
  config_setting_t *s;
  int t = scalar_type(v);
  if (json_is_null(v)) {
    fbuf_addf(errors, "%s: null is not a value: leave the key out\n", path);
    return -1;
  }
  if (t < 0) t = json_is_object(v) ? CONFIG_TYPE_GROUP : array_type(v);
  s = config_setting_add(parent, name, t);
  if (!s) {
    fbuf_addf(errors, "%s: duplicate or invalid key\n", path);
    return -1;
  }
  switch (t) {
    case CONFIG_TYPE_STRING: config_setting_set_string(s, json_string_value(v)); return 0;
    case CONFIG_TYPE_INT: config_setting_set_int(s, (int)json_integer_value(v)); return 0;
    case CONFIG_TYPE_INT64: config_setting_set_int64(s, json_integer_value(v)); return 0;
    case CONFIG_TYPE_FLOAT: config_setting_set_float(s, json_real_value(v)); return 0;
    case CONFIG_TYPE_BOOL: config_setting_set_bool(s, json_is_true(v)); return 0;
    default: return add_members(s, v, path, errors);
  }
}

/* Reads base's file again, as conf_load_ex did. 0, or -1 with errbuf. */
static int read_base(const ferry_conf_t *base, config_t *cfg, char *errbuf) {
  char *dir = fx_strdup(base->path), *slash = strrchr(dir, '/');
  int ok;
  config_init(cfg);
  if (slash) {
    *slash = 0;
    config_set_include_dir(cfg, *dir ? dir : "/");
  }
  fx_free(dir);
  ok = config_read_file(cfg, base->path);
  if (!ok) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG, "%s: cannot read the config file again: %s",
                 base->path, config_error_text(cfg));
    config_destroy(cfg);
    return -1;
  }
  return 0;
}

/* The spec as a JSON object, its name checked against base's tasks. NULL
 * with the problem appended to errors. */
static json_t *spec_json(const ferry_conf_t *base, const char *spec, fbuf_t *errors) {
  json_error_t je;
  json_t *j = json_loads(spec ? spec : "", JSON_REJECT_DUPLICATES, &je);
  const char *name;
  if (!j) {
    fbuf_addf(errors, "spec: not JSON: %s (line %d, column %d)\n", je.text, je.line,
              je.column);
    return NULL;
  }
  if (!json_is_object(j)) {
    fbuf_adds(errors, "spec: must be a JSON object, the fields of a tasks entry\n");
    json_decref(j);
    return NULL;
  }
  name = json_string_value(json_object_get(j, "name"));
  if (name && conf_task(base, name)) {
    fbuf_addf(errors, "task \"%s\" is defined in the config file; the config wins\n", name);
    json_decref(j);
    return NULL;
  }
  return j;
}

/* Appends the spec to the tasks list of cfg (made when absent; emptied
 * first when only). 0, or -1 with the problems in errors. */
static int put_spec(config_t *cfg, json_t *j, int only, fbuf_t *errors) {
  config_setting_t *root = config_root_setting(cfg);
  config_setting_t *tasks = config_setting_get_member(root, "tasks");
  char path[32];
  if (tasks && (only || config_setting_type(tasks) != CONFIG_TYPE_LIST)) {
    config_setting_remove(root, "tasks");
    tasks = NULL;
  }
  if (!tasks) tasks = config_setting_add(root, "tasks", CONFIG_TYPE_LIST);
  snprintf(path, sizeof(path), "tasks[%d]", config_setting_length(tasks));
  return tasks ? add_json(tasks, NULL, j, path, errors) : -1;
}

/* Appends the loader's lines to errors, without "FILE:LINE: " where FILE
 * is the base file and the setting had no line: the spec's own. */
static void strip_place(const char *name, const char *text, fbuf_t *errors) {
  size_t nl = strlen(name);
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > nl + 2 && strncmp(p, name, nl) == 0 && p[nl] == ':' && p[nl + 1] == ' ') {
      p += nl + 2;
      len -= nl + 2;
    }
    fbuf_add(errors, p, len);
    fbuf_adds(errors, "\n");
    p += len + (end ? 1 : 0);
  }
}

ferry_conf_t *conf_load_spec(const ferry_conf_t *base, const char *spec, fbuf_t *errors) {
  fbuf_t sink, out;
  config_t cfg;
  ferry_conf_t *c = NULL;
  char eb[FERRY_ERRLEN];
  json_t *j;
  fbuf_init(&sink, 0);
  if (!errors) errors = &sink;
  if (!(j = spec_json(base, spec, errors))) goto done;
  if (read_base(base, &cfg, eb)) {
    fbuf_addf(errors, "%s\n", eb);
    json_decref(j);
    goto done;
  }
  if (put_spec(&cfg, j, 1, errors) == 0) {
    fbuf_init(&out, 0);
    c = conf_load_cfg(&cfg, base->path, CONF_SKIP_CREDENTIALS, &out, NULL);
    strip_place(base->path, fbuf_str(&out), errors);
    fbuf_release(&out);
  }
  config_destroy(&cfg);
  json_decref(j);
done:
  fbuf_release(&sink);
  return c;
}

ferry_err_t conf_write_with_spec(const ferry_conf_t *base, const char *spec,
                                 const char *path, char *errbuf) {
  fbuf_t errs;
  config_t cfg;
  json_t *j;
  FILE *fp;
  int fd, rc;
  fbuf_init(&errs, 0);
  j = spec_json(base, spec, &errs);
  if (!j) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "%s", fbuf_str(&errs));
    fbuf_release(&errs);
    return FERRY_ERR_INVALID;
  }
  if (read_base(base, &cfg, errbuf)) {
    json_decref(j);
    fbuf_release(&errs);
    return FERRY_ERR_CONFIG;
  }
  rc = put_spec(&cfg, j, 0, &errs);
  json_decref(j);
  if (rc) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "%s", fbuf_str(&errs));
    fbuf_release(&errs);
    config_destroy(&cfg);
    return FERRY_ERR_INVALID;
  }
  fbuf_release(&errs);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  fp = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!fp) {
    int e = errno;
    if (fd >= 0) close(fd);
    config_destroy(&cfg);
    return ferry_seterr(errbuf, FERRY_ERR_IO, "%s: %s", path, strerror(e));
  }
  config_write(&cfg, fp);
  rc = ferror(fp);
  if (fclose(fp) || rc) {
    config_destroy(&cfg);
    unlink(path);
    return ferry_seterr(errbuf, FERRY_ERR_IO, "%s: write failed", path);
  }
  config_destroy(&cfg);
  return FERRY_OK;
}

static void put_loc(json_t *o, const char *k, const conf_loc_t *l) {
  char *s = l->kind == CONF_LOC_URLS
                ? fx_asprintf("urls:%s", l->path)
                : fx_asprintf("%s:%s%s%s", l->store, l->bucket, *l->prefix ? "/" : "", l->prefix);
  json_object_set_new(o, k, json_string(s));
  fx_free(s);
}

static void put_strv(json_t *o, const char *k, char *const *v, size_t n) {
  json_t *a = json_array();
  size_t i;
  for (i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
  json_object_set_new(o, k, a);
}

static void put_time(json_t *o, const char *k, int64_t t) {
  char s[32];
  time_t tt = (time_t)t;
  struct tm tm;
  if (!t || !gmtime_r(&tt, &tm)) return;
  strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
  json_object_set_new(o, k, json_string(s));
}

char *conf_task_spec(const task_conf_t *t) {
  json_t *o = json_object();
  char **kv = fx_calloc(t->storage_class_map.n + 1, sizeof(char *));
  char *s;
  size_t i;
  json_object_set_new(o, "name", json_string(t->name));
  put_loc(o, "source", &t->src);
  put_loc(o, "destination", &t->dst);
  json_object_set_new(o, "same_name", json_string(msg_policy_str(t->same_name)));
  json_object_set_new(o, "qps_limit", json_integer((json_int_t)t->qps_limit));
  json_object_set_new(o, "bandwidth_limit", json_integer((json_int_t)t->bandwidth_limit));
  for (i = 0; i < t->storage_class_map.n; i++)
    kv[i] = fx_asprintf("%s=%s", t->storage_class_map.v[i].name, t->storage_class_map.v[i].value);
  put_strv(o, "storage_class_map", kv, t->storage_class_map.n);
  for (i = 0; i < t->storage_class_map.n; i++) fx_free(kv[i]);
  fx_free(kv);
  if (t->include.n) put_strv(o, "include", t->include.v, t->include.n);
  if (t->exclude.n) put_strv(o, "exclude", t->exclude.v, t->exclude.n);
  if (t->bandwidth_schedule.n)
    put_strv(o, "bandwidth_schedule", t->bandwidth_schedule.v, t->bandwidth_schedule.n);
  if (t->min_size) json_object_set_new(o, "min_size", json_integer((json_int_t)t->min_size));
  if (t->max_size) json_object_set_new(o, "max_size", json_integer((json_int_t)t->max_size));
  put_time(o, "modified_after", t->modified_after);
  put_time(o, "modified_before", t->modified_before);
  json_object_set_new(o, "record_source_etag", json_boolean(t->record_source_etag));
  json_object_set_new(o, "audit", json_boolean(t->audit));
  s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  return s ? s : fx_strdup("{}");
}

size_t conf_spec_schedule(const char *spec, char ***out) {
  json_t *j = json_loads(spec ? spec : "", 0, NULL);
  json_t *a = json_object_get(j, "bandwidth_schedule"), *e;
  size_t i, n = 0;
  *out = NULL;
  if (json_is_array(a) && json_array_size(a)) {
    *out = fx_calloc(json_array_size(a), sizeof(char *));
    json_array_foreach(a, i, e)
      if (json_is_string(e)) (*out)[n++] = fx_strdup(json_string_value(e));
  }
  json_decref(j);
  return n;
}
