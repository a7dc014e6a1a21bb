//! Recurrence across zones and clock changes, field problems, reminders.
use super::*;

fn at(zone: &str, text: &str) -> Millis {
    let tz: Tz = zone.parse().unwrap();
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&naive).unwrap().timestamp_millis()
}

fn every(frequency: Frequency, interval: u32, weekdays: &[u32]) -> Recurrence {
    Recurrence {
        frequency,
        interval,
        weekdays: weekdays.to_vec(),
    }
}

#[test]
fn daily_keeps_the_local_time() {
    let kl = "Asia/Kuala_Lumpur";
    let due = at(kl, "2026-12-31 09:30");
    let r = every(Frequency::Daily, 1, &[]);
    assert_eq!(next_due(due, kl, &r), Some(at(kl, "2027-01-01 09:30")));
    let r = every(Frequency::Daily, 3, &[]);
    assert_eq!(next_due(due, kl, &r), Some(at(kl, "2027-01-03 09:30")));
}

#[test]
fn daily_across_a_clock_change_keeps_the_wall_time() {
    // Europe/London moves to summer time on 2027-03-28.
    let zone = "Europe/London";
    let due = at(zone, "2027-03-27 09:00");
    let next = next_due(due, zone, &every(Frequency::Daily, 1, &[])).unwrap();
    assert_eq!(next, at(zone, "2027-03-28 09:00"));
    assert_eq!(next - due, 23 * 3_600_000, "the day was an hour short");
}

#[test]
fn weekly_on_chosen_days() {
    let kl = "Asia/Kuala_Lumpur";
    // 2026-12-07 is a Monday.
    let monday = at(kl, "2026-12-07 10:00");
    let mon_thu = every(Frequency::Weekly, 1, &[1, 4]);
    let thursday = next_due(monday, kl, &mon_thu).unwrap();
    assert_eq!(thursday, at(kl, "2026-12-10 10:00"));
    assert_eq!(
        next_due(thursday, kl, &mon_thu),
        Some(at(kl, "2026-12-14 10:00"))
    );
    // Every other week, on Mondays.
    let fortnightly = every(Frequency::Weekly, 2, &[1]);
    assert_eq!(
        next_due(monday, kl, &fortnightly),
        Some(at(kl, "2026-12-21 10:00"))
    );
    // No days chosen: the due day's.
    assert_eq!(
        next_due(monday, kl, &every(Frequency::Weekly, 1, &[])),
        Some(at(kl, "2026-12-14 10:00"))
    );
}

#[test]
fn monthly_takes_the_last_day_of_a_shorter_month() {
    let kl = "Asia/Kuala_Lumpur";
    let due = at(kl, "2027-01-31 08:00");
    assert_eq!(
        next_due(due, kl, &every(Frequency::Monthly, 1, &[])),
        Some(at(kl, "2027-02-28 08:00"))
    );
}

fn input() -> TaskInput {
    TaskInput {
        title: "Call Puan Aminah".into(),
        due_at: Some(1_800_000_000_000),
        remind_before_minutes: 15,
        ..TaskInput::default()
    }
}

#[test]
fn bad_fields_are_named() {
    let bad = TaskInput {
        title: " ".into(),
        due_at: None,
        time_zone: "Mars/Olympus".into(),
        recurrence: Some(every(Frequency::Daily, 1, &[9])),
        remind_before_minutes: MAX_REMIND_BEFORE + 1,
        ..TaskInput::default()
    };
    let problems = Task::create(TenantId::new(), bad, UserId::new(), 0).unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "task.title",
            "task.due_time",
            "task.time_zone",
            "task.recurrence",
            "task.remind_before_minutes"
        ]
    );
}

#[test]
fn a_reminder_fires_once_and_a_new_due_time_arms_it_again() {
    let mut task = Task::create(TenantId::new(), input(), UserId::new(), 0).unwrap();
    assert_eq!(task.remind_at(), Some(1_800_000_000_000 - 15 * 60_000));
    task.reminded_at = Some(1);
    assert_eq!(task.remind_at(), None);
    let later = TaskInput {
        due_at: Some(1_800_000_600_000),
        ..input()
    };
    task.apply(later, &["due_time"]).unwrap();
    assert_eq!(task.remind_at(), Some(1_800_000_600_000 - 15 * 60_000));
    assert!(task.close(Status::Done, 5));
    assert_eq!(task.remind_at(), None, "a closed task reminds no one");
    assert!(!task.close(Status::Cancelled, 6), "closed once");
}
