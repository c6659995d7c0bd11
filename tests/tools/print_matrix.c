/*
 * print_matrix.c — print the permission matrix of src/auth/perm.c as
 * Markdown, for scripts/gen-security-matrix.sh to put into docs/security.md.
 */
#include <stdio.h>
#include <stdlib.h>

#include "auth/auth.h"

int main(void)
{
    char *t = auth_matrix_markdown();
    fputs(t, stdout);
    free(t);
    return 0;
}
