/* SPDX-License-Identifier: Apache-2.0 */
#include "container.h"

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool tu_is_static_elf(const char *path)
{
	Elf64_Ehdr eh;
	bool is_static = true;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64) {
		close(fd);
		return false;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * eh.e_phentsize)) !=
		    sizeof(ph))
			break;
		if (ph.p_type == PT_INTERP)
			is_static = false;
	}
	close(fd);
	return is_static;
}

bool tu_ls_owner(const char *ls, const char *name, long *uid, long *gid)
{
	char *copy = strdup(ls), *save = NULL;
	bool found = false;

	if (!copy)
		return false;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char perms[32], file[256];
		long links;

		if (sscanf(line, "%31s %ld %ld %ld %*s %*s %*s %*s %255s", perms, &links, uid, gid,
		           file) == 5 &&
		    !strcmp(file, name)) {
			found = true;
			break;
		}
	}
	free(copy);
	return found;
}
