/* Test scaffolding for an old Wine, never shipped: Wine 8 (Debian 12) has no
 * bcryptprimitives.dll, from which Rust's std takes ProcessPrng, so a Rust .exe
 * does not start under it (exit 53). This stub, laid beside the .exe by the Wine
 * tests (tests/native_wine.rs), answers ProcessPrng with RtlGenRandom (advapi32's
 * SystemFunction036), which Wine has. Built there with:
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
