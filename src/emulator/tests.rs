// Integration-style tests of the emulator through its router; filled in below.
