"""Working days: weekends and Chinese holidays skipped, adjusted working days (调休) counted."""

from datetime import date, timedelta

from trading.models import CalendarDay


def calendar_overrides(start: date, end: date) -> dict[date, str]:
    return dict(CalendarDay.objects.filter(date__range=(start, end)).values_list("date", "kind"))


def is_working_day(day: date, overrides: dict[date, str] | None = None) -> bool:
    overrides = calendar_overrides(day, day) if overrides is None else overrides
    kind = overrides.get(day)
    if kind == CalendarDay.Kind.HOLIDAY:
        return False
    if kind == CalendarDay.Kind.WORKDAY:
        return True
    return day.weekday() < 5


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (the first day is not counted)."""
    if end <= start:
        return 0
    overrides = calendar_overrides(start, end)
    return sum(1 for n in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=n), overrides))


def add_working_days(start: date, count: int) -> date:
    overrides = calendar_overrides(start, start + timedelta(days=count * 3 + 30))
    day = start
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day, overrides):
            count -= 1
    return day


def seed_from_chinese_calendar(years: range) -> int:
    """Load holidays and adjusted working days from the maintained chinese_calendar package."""
    import chinese_calendar

    created = 0
    for year in years:
        start, end = date(year, 1, 1), date(year, 12, 31)
        try:
            holidays = chinese_calendar.get_holidays(start, end, include_weekends=False)
            workdays = [d for d in chinese_calendar.get_workdays(start, end, include_weekends=True) if d.weekday() >= 5]
        except NotImplementedError:  # the package does not know this year yet; staff add it by hand
            continue
        for day in holidays:
            _detail, name = chinese_calendar.get_holiday_detail(day)
            _, was_created = CalendarDay.objects.update_or_create(
                date=day, defaults={"kind": CalendarDay.Kind.HOLIDAY, "name": str(name or "")}
            )
            created += was_created
        for day in workdays:
            _, was_created = CalendarDay.objects.update_or_create(
                date=day, defaults={"kind": CalendarDay.Kind.WORKDAY, "name": "调休"}
            )
            created += was_created
    return created
