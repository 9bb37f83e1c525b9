/* Test scaffolding, never shipped: shows who a named pipe admits, as Windows keeps it.
 *
 *   pipe-dacl.exe \\.\pipe\NAME
 *
 * Prints `user SID` (this process's user, which is the agent's under the same Wine
 * prefix) and `dacl SDDL` (the pipe's DACL, read back from the object with
 * GetSecurityInfo, as ConvertSecurityDescriptorToStringSecurityDescriptorW writes it).
 * It opens the pipe with READ_CONTROL alone, which is a connection to the server that
 * sends nothing. Exits 1, saying which call failed and its error, when one does.
 * Built by the tests with: x86_64-w64-mingw32-gcc -municode -O2 -o pipe-dacl.exe
 * pipe-dacl.c -ladvapi32
 */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>

static int failed(const char *call, DWORD error)
{
    fprintf(stderr, "%s: %lu\n", call, (unsigned long)error);
    return 1;
}

int wmain(int argc, wchar_t **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pipe-dacl.exe PIPE\n");
        return 2;
    }
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return failed("OpenProcessToken", GetLastError());
    BYTE buffer[512];
    DWORD size = 0;
    if (!GetTokenInformation(token, TokenUser, buffer, sizeof buffer, &size))
        return failed("GetTokenInformation", GetLastError());
    LPWSTR sid = NULL;
    if (!ConvertSidToStringSidW(((TOKEN_USER *)buffer)->User.Sid, &sid))
        return failed("ConvertSidToStringSidW", GetLastError());
    wprintf(L"user %ls\n", sid);

    HANDLE pipe = CreateFileW(argv[1], READ_CONTROL, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (pipe == INVALID_HANDLE_VALUE)
        return failed("CreateFileW", GetLastError());
    PSECURITY_DESCRIPTOR descriptor = NULL;
    DWORD error = GetSecurityInfo(pipe, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL,
                                  NULL, NULL, NULL, &descriptor);
    if (error != ERROR_SUCCESS)
        return failed("GetSecurityInfo", error);
    LPWSTR text = NULL;
    if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(
            descriptor, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, NULL))
        return failed("ConvertSecurityDescriptorToStringSecurityDescriptorW", GetLastError());
    wprintf(L"dacl %ls\n", text);
    fflush(stdout);
    LocalFree(text);
    LocalFree(descriptor);
    LocalFree(sid);
    CloseHandle(pipe);
    CloseHandle(token);
    return 0;
}
