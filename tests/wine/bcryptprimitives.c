/* Test scaffolding for running Windows builds under Wine 8, which lacks
 * bcryptprimitives.dll: Rust's std for windows-gnu imports ProcessPrng from it, so
 * without this no Rust program starts. Built by .ci/wine-tests with mingw-w64 and placed
 * beside the test executables. ProcessPrng on top of advapi32's RtlGenRandom. */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
