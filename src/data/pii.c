/*
 * pii.c — detectors of personal data by the shape of values, used to
 * suggest column tags when a file is registered, and the mask applied to
 * restricted values in samples and logs.
 *
 *   pii:email  local@domain.tld
 *   pii:phone  7-15 digits written as a phone number: a leading "+", or
 *              parentheses, or three or more groups ("415-555-0100");
 *              plain digit strings, dates, decimals and IPv4 addresses are not
 *   pii:card   13-19 digits (spaces or dashes between groups) starting
 *              with 3-6 and passing the Luhn check
 *   pii:id     national identifiers: US SSN (123-45-6789, with the valid
 *              area, group and serial ranges), UK National Insurance numbers
 *              (AB123456C), IBANs (country, check digits, mod-97 check)
 *   pii:name   by the column's name only (name, first_name, surname, ...):
 *              names have no shape to find
 *
 * Every detector first rejects on the first few bytes, so scanning costs
 * little next to parsing.
 */
#include <ctype.h>
#include <string.h>

#include "data/data_int.h"

static const char *const tags[PII_KINDS] = {"pii:email", "pii:phone", "pii:card", "pii:id",
                                            "pii:id"};
static const char *const reasons[PII_KINDS] = {
    "values shaped like email addresses",
    "values shaped like phone numbers",
    "card numbers (Luhn check passed)",
    "national identifier numbers (US SSN or UK NINO shape)",
    "IBANs (mod-97 check passed)",
};

const char *dt_pii_tag(int i)
{
    return tags[i];
}

const char *dt_pii_reason(int i)
{
    return reasons[i];
}

static int is_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || at == s || n > 254)
        return 0;
    size_t local = (size_t)(at - s), dom = n - local - 1;
    if (local > 64 || dom < 4 || s[0] == '.' || at[-1] == '.')
        return 0;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !strchr(".!#$%&'*+/=?^_`{|}~-", c))
            return 0;
    }
    const char *d = at + 1;
    size_t label = 0, dots = 0, tld_alpha = 1;
    for (size_t i = 0; i < dom; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            if (label == 0 || d[i - 1] == '-')
                return 0;
            dots++;
            label = 0;
            tld_alpha = 1;
        } else if (isalnum(c) || (c == '-' && label > 0)) {
            label++;
            if (!isalpha(c))
                tld_alpha = 0;
        } else {
            return 0;
        }
    }
    return dots >= 1 && label >= 2 && tld_alpha;
}

static int luhn(const char *digits, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* The digits of a value made of digits and the separators in seps, with
 * the sizes of its digit groups. 0 when anything else is in it. */
static size_t digit_groups(const char *s, size_t n, const char *seps, char *out, size_t max,
                           int *groups, int *sizes, int max_groups)
{
    size_t nd = 0;
    int g = 0, cur = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9') {
            if (nd == max)
                return 0;
            out[nd++] = (char)c;
            cur++;
        } else if (strchr(seps, c)) {
            if (cur) {
                if (g < max_groups)
                    sizes[g] = cur;
                g++;
                cur = 0;
            }
        } else {
            return 0;
        }
    }
    if (cur) {
        if (g < max_groups)
            sizes[g] = cur;
        g++;
    }
    *groups = g;
    return nd;
}

static int is_card(const char *s, size_t n)
{
    if (n < 13 || n > 23 || s[0] < '3' || s[0] > '6')
        return 0;
    char d[24];
    int groups, sizes[8];
    size_t nd = digit_groups(s, n, " -", d, sizeof d, &groups, sizes, 8);
    return nd >= 13 && nd <= 19 && luhn(d, nd);
}

static int is_ssn(const char *s, size_t n)
{
    if (n != 11 || s[3] != '-' || s[6] != '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (i != 3 && i != 6 && !isdigit((unsigned char)s[i]))
            return 0;
    int area = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return area != 0 && area != 666 && area < 900 && memcmp(s + 4, "00", 2) != 0 &&
           memcmp(s + 7, "0000", 4) != 0;
}

static int is_nino(const char *s, size_t n)
{
    char c[9];
    size_t m = 0;
    for (size_t i = 0; i < n && m < sizeof c; i++)
        if (s[i] != ' ')
            c[m++] = (char)toupper((unsigned char)s[i]);
    if (m != 9 || n > 13)
        return 0;
    static const char *const bad_first = "DFIQUV", *const bad_second = "DFIOQUV";
    if (!isalpha((unsigned char)c[0]) || !isalpha((unsigned char)c[1]) || strchr(bad_first, c[0]) ||
        strchr(bad_second, c[1]))
        return 0;
    static const char *const bad_prefix[] = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"};
    for (size_t i = 0; i < sizeof bad_prefix / sizeof bad_prefix[0]; i++)
        if (!memcmp(c, bad_prefix[i], 2))
            return 0;
    for (int i = 2; i < 8; i++)
        if (!isdigit((unsigned char)c[i]))
            return 0;
    return c[8] >= 'A' && c[8] <= 'D';
}

static int is_iban(const char *s, size_t n)
{
    char c[40];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            continue;
        if (m == sizeof c || !isalnum((unsigned char)s[i]))
            return 0;
        c[m++] = (char)toupper((unsigned char)s[i]);
    }
    if (m < 15 || m > 34 || !isalpha((unsigned char)c[0]) || !isalpha((unsigned char)c[1]) ||
        !isdigit((unsigned char)c[2]) || !isdigit((unsigned char)c[3]))
        return 0;
    /* mod 97 of the rearranged number, letters as 10..35 */
    int rem = 0;
    for (size_t k = 0; k < m; k++) {
        char ch = c[(k + 4) % m];
        if (isdigit((unsigned char)ch))
            rem = (rem * 10 + (ch - '0')) % 97;
        else
            rem = (rem * 100 + (ch - 'A' + 10)) % 97;
    }
    return rem == 1;
}

static int is_phone(const char *s, size_t n)
{
    if (n < 7 || n > 24)
        return 0;
    size_t start = 0;
    int plus = s[0] == '+', paren = memchr(s, '(', n) != NULL;
    if (plus)
        start = 1;
    char d[24];
    int groups, sizes[8];
    size_t nd = digit_groups(s + start, n - start, " -.()", d, sizeof d, &groups, sizes, 8);
    if (nd < 7 || nd > 15)
        return 0;
    if (plus || paren)
        return 1;
    if (groups < 3)
        return 0;
    /* Not dates (2024-01-02), SSNs (123-45-6789) or IPv4 addresses. */
    if (groups == 3 && ((sizes[0] == 4 && sizes[1] == 2 && sizes[2] == 2) ||
                        (sizes[0] == 3 && sizes[1] == 2 && sizes[2] == 4)))
        return 0;
    if (groups == 4 && memchr(s, '.', n) && !memchr(s, ' ', n) && !memchr(s, '-', n))
        return 0;
    return 1;
}

unsigned dt_pii_detect(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n < 7)
        return 0;
    unsigned found = 0;
    if (memchr(s, '@', n)) {
        if (is_email(s, n))
            found |= PII_EMAIL;
        return found;
    }
    unsigned char c = (unsigned char)s[0];
    if (isdigit(c) || c == '+' || c == '(') {
        if (is_ssn(s, n))
            found |= PII_NATIONAL_ID;
        else if (is_card(s, n))
            found |= PII_CARD;
        else if (is_phone(s, n))
            found |= PII_PHONE;
    } else if (isalpha(c)) {
        if (is_nino(s, n))
            found |= PII_NATIONAL_ID;
        else if (is_iban(s, n))
            found |= PII_IBAN;
    }
    return found;
}

const char *dt_pii_name_hint(const char *column)
{
    char norm[64];
    size_t m = 0;
    for (const char *p = column; *p && m + 1 < sizeof norm; p++)
        if (isalnum((unsigned char)*p))
            norm[m++] = (char)tolower((unsigned char)*p);
    norm[m] = '\0';
    static const char *const names[] = {
        "name",        "fullname",     "firstname",   "lastname",    "surname",
        "givenname",   "familyname",   "middlename",  "forename",    "customername",
        "contactname", "personname",   "patientname", "employeename", "holdername",
        "cardholdername", "accountholder", "maidenname",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(norm, names[i]))
            return "pii:name";
    return NULL;
}

int data_tag_is_restricted(const char *tag)
{
    return !strncmp(tag, "pii:", 4) || !strcmp(tag, "sensitive");
}

const char *data_pii_mask(const char *tag, const char *value)
{
    (void)tag;
    (void)value;
    return "***";
}
