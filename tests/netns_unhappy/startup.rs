//! Start-up faults and `-t` (issue 10 point 5).
