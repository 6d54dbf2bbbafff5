# "3. Dez. 2026", "3. Dez. 2026, 14:05" as German shops write them.
DATE_FORMAT = "j. M Y"
DATETIME_FORMAT = "j. M Y, H:i"
