/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the xattr tests: capability bytes, ACLs through libacl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/acl.h>

void xu_put_le32(uint8_t *p, uint32_t v);
uint32_t xu_get_le32(const uint8_t *p);

/* A revision 2 (20 bytes) / revision 3 (24 bytes) security.capability value
 * with permitted[0], inheritable[0] and, for v3, rootid. */
void xu_cap_v2(uint8_t *buf, bool effective, uint32_t permitted, uint32_t inheritable);
void xu_cap_v3(uint8_t *buf, bool effective, uint32_t permitted, uint32_t inheritable,
               uint32_t rootid);

/* Sets an ACL of type on path (follows nothing but path itself) with one
 * named user uid and one named group gid, through libacl. 0 or -1/errno. */
int xu_acl_set(const char *path, acl_type_t type, uint32_t uid, uint32_t gid);

/* Sets an access ACL with nu named users 0..nu-1 and ng named groups. */
int xu_acl_set_many(const char *path, unsigned nu, unsigned ng);

/* Reads the ACL of type on path through libacl (the kernel's view from the
 * caller's user namespace) and returns its ACL_USER and ACL_GROUP
 * qualifiers (-1 when there is none; the last one when several). 0 or -1. */
int xu_acl_quals(const char *path, acl_type_t type, long *ret_uid, long *ret_gid);
