/* pid_file.h — the pid_file key: scripts find the running hellod there
 * (kill -USR2 $(cat FILE)). */
#ifndef HELLOD_PID_FILE_H
#define HELLOD_PID_FILE_H

/* Writes this process's pid to path, atomically (a temporary file renamed
 * over it), so a reader never sees a half-written number. Returns 0, or
 * -errno. */
int hd_pid_file_write(const char *path);
/* Removes path if it still holds this process's pid: after a handoff it
 * holds the successor's, which must stay. */
void hd_pid_file_remove_own(const char *path);

#endif
