/* Test scaffolding, never shipped: cancels a Windows step the way the Actions runner
 * does (actions/runner, src/Runner.Sdk/ProcessInvoker.cs, SendCtrlSignal): a console
 * control event, CTRL_C_EVENT or CTRL_BREAK_EVENT, generated for process group 0,
 * which is every process attached to the step's console. Here this program starts
 * the step itself on its own console, so it needs no AttachConsole.
 *
 *   console-ctrl.exe c|break TRIGGER COMMAND [ARGS...]
 *   console-ctrl.exe sleep STARTED
 *
 * Starts COMMAND, waits until the file TRIGGER exists (the test creates it when the
 * step holds a token), sends the event, and exits with COMMAND's exit status. Like
 * the runner, it ignores the event itself with a handler (not with a NULL handler,
 * whose "ignore Ctrl-C" its child would inherit).
 * `sleep` is a command for `app-token exec` to run: it creates the file STARTED and
 * sleeps a minute, with no handler of its own, so that Ctrl-C ends it as Windows
 * ends any console program that does not handle it.
 * Wine 8 (Debian 12) generates CTRL_C_EVENT but refuses CTRL_BREAK_EVENT for any
 * group (ERROR_INVALID_HANDLE, 6): then this exits 2 after saying so, and the test
 * reports Ctrl-Break as not checked.
 * Built by the tests with: x86_64-w64-mingw32-gcc -O2 -o console-ctrl.exe console-ctrl.c
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

static BOOL WINAPI ignore(DWORD event)
{
    (void)event;
    return TRUE;
}

int wmain(int argc, wchar_t **argv)
{
    if (argc == 3 && wcscmp(argv[1], L"sleep") == 0) {
        HANDLE started = CreateFileW(argv[2], GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
        if (started == INVALID_HANDLE_VALUE)
            return 2;
        CloseHandle(started);
        Sleep(60000);
        return 0;
    }
    if (argc < 4) {
        fwprintf(stderr, L"usage: console-ctrl.exe c|break TRIGGER COMMAND [ARGS...]\n");
        return 2;
    }
    DWORD event = wcscmp(argv[1], L"break") == 0 ? CTRL_BREAK_EVENT : CTRL_C_EVENT;
    static wchar_t line[32768];
    line[0] = 0;
    for (int i = 3; i < argc; i++) {
        if (wcslen(line) + wcslen(argv[i]) + 4 >= sizeof line / sizeof line[0])
            return 2;
        wcscat(line, L"\"");
        wcscat(line, argv[i]);
        wcscat(line, i + 1 < argc ? L"\" " : L"\"");
    }
    /* A console of its own for the step, as the runner has (it frees its console and
     * attaches to the step's): Wine's console for a process started from a pipe takes
     * no control events. The test's pipes stay the step's output. */
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE), out = GetStdHandle(STD_OUTPUT_HANDLE),
           err = GetStdHandle(STD_ERROR_HANDLE);
    FreeConsole();
    if (!AllocConsole()) {
        fwprintf(stderr, L"console-ctrl: AllocConsole: %lu\n", GetLastError());
        return 2;
    }
    if (!SetConsoleCtrlHandler(ignore, TRUE)) {
        fwprintf(stderr, L"console-ctrl: SetConsoleCtrlHandler: %lu\n", GetLastError());
        return 2;
    }
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    ZeroMemory(&si, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in;
    si.hStdOutput = out;
    si.hStdError = err;
    SetHandleInformation(in, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    SetHandleInformation(out, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    SetHandleInformation(err, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    if (!CreateProcessW(NULL, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        fwprintf(stderr, L"console-ctrl: CreateProcess: %lu\n", GetLastError());
        return 2;
    }
    while (GetFileAttributesW(argv[2]) == INVALID_FILE_ATTRIBUTES) {
        if (WaitForSingleObject(pi.hProcess, 20) == WAIT_OBJECT_0) {
            fwprintf(stderr, L"console-ctrl: the command ended before the trigger\n");
            break;
        }
    }
    if (WaitForSingleObject(pi.hProcess, 0) != WAIT_OBJECT_0 && !GenerateConsoleCtrlEvent(event, 0)) {
        fwprintf(stderr, L"console-ctrl: GenerateConsoleCtrlEvent: %lu\n", GetLastError());
        TerminateProcess(pi.hProcess, 3);
        return 2;
    }
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}
