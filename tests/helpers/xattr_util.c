/* SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "xattr_util.h"

#include <acl/libacl.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xu_put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

uint32_t xu_get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

void xu_cap_v2(uint8_t *buf, bool effective, uint32_t permitted, uint32_t inheritable)
{
	memset(buf, 0, 20);
	xu_put_le32(buf, 0x02000000U | (effective ? 1U : 0U));
	xu_put_le32(buf + 4, permitted);
	xu_put_le32(buf + 8, inheritable);
}

void xu_cap_v3(uint8_t *buf, bool effective, uint32_t permitted, uint32_t inheritable,
               uint32_t rootid)
{
	memset(buf, 0, 24);
	xu_put_le32(buf, 0x03000000U | (effective ? 1U : 0U));
	xu_put_le32(buf + 4, permitted);
	xu_put_le32(buf + 8, inheritable);
	xu_put_le32(buf + 20, rootid);
}

static int set_text(const char *path, acl_type_t type, const char *text)
{
	acl_t acl = acl_from_text(text);
	int r, saved;

	if (!acl)
		return -1;
	r = acl_valid(acl) == 0 ? acl_set_file(path, type, acl) : -1;
	saved = errno;
	acl_free(acl);
	errno = saved;
	return r;
}

int xu_acl_set(const char *path, acl_type_t type, uint32_t uid, uint32_t gid)
{
	char text[256];

	snprintf(text, sizeof(text), "u::rw-,u:%u:r--,g::r--,g:%u:rw-,m::rw-,o::---", uid, gid);
	return set_text(path, type, text);
}

int xu_acl_set_many(const char *path, unsigned nu, unsigned ng)
{
	size_t cap = 64 + 24 * (nu + ng), len;
	char *text = malloc(cap);
	int r;

	if (!text)
		return -1;
	len = (size_t)snprintf(text, cap, "u::rw-,g::r--,m::rw-,o::---");
	for (unsigned i = 0; i < nu; i++)
		len += (size_t)snprintf(text + len, cap - len, ",u:%u:r--", i);
	for (unsigned i = 0; i < ng; i++)
		len += (size_t)snprintf(text + len, cap - len, ",g:%u:r--", 10000 + i);
	r = set_text(path, ACL_TYPE_ACCESS, text);
	free(text);
	return r;
}

int xu_acl_quals(const char *path, acl_type_t type, long *ret_uid, long *ret_gid)
{
	acl_t acl = acl_get_file(path, type);
	acl_entry_t e;
	int id;

	*ret_uid = *ret_gid = -1;
	if (!acl)
		return -1;
	for (id = ACL_FIRST_ENTRY; acl_get_entry(acl, id, &e) == 1; id = ACL_NEXT_ENTRY) {
		acl_tag_t tag;
		void *q;

		if (acl_get_tag_type(e, &tag) < 0)
			break;
		if (tag != ACL_USER && tag != ACL_GROUP)
			continue;
		q = acl_get_qualifier(e);
		if (!q)
			break;
		if (tag == ACL_USER)
			*ret_uid = (long)*(uid_t *)q;
		else
			*ret_gid = (long)*(gid_t *)q;
		acl_free(q);
	}
	acl_free(acl);
	return 0;
}
