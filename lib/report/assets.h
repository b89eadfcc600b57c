/*
 * assets.h: the status page's script and style sheet, the files
 * reporter/assets/page.js and page.css embedded at build time as C arrays
 * (cmake/embed.cmake generates report_assets.c). Each is NUL-terminated;
 * _len excludes the NUL. Edit the files, not a C string.
 */
#ifndef FERRY_REPORT_ASSETS_H
#define FERRY_REPORT_ASSETS_H

#include <stddef.h>

extern const char tallyweb_asset_page_js[];
extern const size_t tallyweb_asset_page_js_len;
extern const char tallyweb_asset_page_css[];
extern const size_t tallyweb_asset_page_css_len;

#endif
