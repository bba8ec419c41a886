"""What people must hear: a failed date, Clipping Magic credits running low, a date not finished by its deadline."""
