//! Triggers: runner never fires them, but checks the core ones as Kestra does (a Schedule's
//! cron and time zone, a Webhook's key), names the plugin ones it does not know, and gives a
//! run the `trigger` variables its trigger would (`--trigger`, for a Schedule from its cron).

use jiff::{Timestamp, ToSpan, ZonedDateTime as Zoned, civil::DateTime, tz::TimeZone};
use runner_model::{Diagnostic, Node, NodeValue, Problem, suggest};
use serde_json::{Value as Json, json};

/// The core trigger types (and their old names).
pub const CORE_TRIGGERS: &[&str] = &[
    "io.kestra.plugin.core.trigger.Schedule",
    "io.kestra.core.models.triggers.types.Schedule",
    "io.kestra.plugin.core.trigger.ScheduleOnDates",
    "io.kestra.plugin.core.trigger.Flow",
    "io.kestra.core.models.triggers.types.Flow",
    "io.kestra.plugin.core.trigger.Webhook",
    "io.kestra.core.models.triggers.types.Webhook",
    "io.kestra.plugin.core.http.Trigger",
    "io.kestra.plugin.fs.http.Trigger",
];

fn is_schedule(type_name: &str) -> bool {
    type_name.ends_with(".Schedule")
}

/// One trigger of a flow, as the run needs it.
#[derive(Clone, Debug)]
pub struct TriggerSpec {
    pub id: String,
    pub type_name: String,
    /// A Schedule's cron, read.
    pub schedule: Option<Schedule>,
}

#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    zone: TimeZone,
}

/// Reads and checks the `triggers` of a flow document: problems (errors and warnings) and
/// the triggers read.
pub(crate) fn read(doc: &Node) -> (Vec<TriggerSpec>, Vec<Diagnostic>) {
    let mut specs = Vec::new();
    let mut problems = Vec::new();
    let Some(list) = doc.get("triggers").and_then(Node::as_seq) else {
        return (specs, problems);
    };
    for (i, t) in list.iter().enumerate() {
        let (Some(id), Some(type_node)) = (t.get("id").and_then(Node::as_str), t.get("type"))
        else {
            continue; // the model reports a trigger without id or type
        };
        let Some(type_name) = type_node.as_str() else {
            continue;
        };
        let path = format!("triggers[{i}]");
        if let Some(c) = t.get("conditions") {
            check_conditions(c, &format!("{path}.conditions"), &mut problems);
        }
        if !CORE_TRIGGERS.contains(&type_name) {
            let core = type_name.starts_with("io.kestra.plugin.core.trigger.")
                || type_name.starts_with("io.kestra.core.models.triggers.");
            match suggest(type_name, CORE_TRIGGERS.iter().copied()).filter(|_| core) {
                Some(s) => problems.push(Diagnostic::error(
                    Problem::UnknownTaskType {
                        type_name: type_name.to_string(),
                        suggestion: Some(s),
                    },
                    type_node.span,
                    format!("{path}.type"),
                )),
                None if core => problems.push(Diagnostic::error(
                    Problem::UnknownTaskType {
                        type_name: type_name.to_string(),
                        suggestion: None,
                    },
                    type_node.span,
                    format!("{path}.type"),
                )),
                None => problems.push(Diagnostic::warning(
                    Problem::UnknownTriggerType {
                        type_name: type_name.to_string(),
                    },
                    type_node.span,
                    format!("{path}.type"),
                )),
            }
            specs.push(TriggerSpec {
                id: id.to_string(),
                type_name: type_name.to_string(),
                schedule: None,
            });
            continue;
        }
        let mut schedule = None;
        if is_schedule(type_name) {
            schedule = read_schedule(t, &path, &mut problems);
        }
        if type_name.ends_with(".Flow") {
            if let Some(states) = t.get("states") {
                check_states(states, &format!("{path}.states"), &mut problems);
            }
            if let Some(p) = t.get("preconditions") {
                check_preconditions(p, &format!("{path}.preconditions"), &mut problems);
            }
        }
        if type_name.ends_with(".Webhook") {
            match t.get("key") {
                Some(k) if k.as_str().is_some_and(|s| !s.trim().is_empty()) => {}
                Some(k) => problems.push(Diagnostic::error(
                    Problem::Empty {
                        property: format!("{path}.key"),
                    },
                    k.span,
                    format!("{path}.key"),
                )),
                None => problems.push(Diagnostic::error(
                    Problem::Missing {
                        property: format!("{path}.key"),
                    },
                    t.span,
                    format!("{path}.key"),
                )),
            }
        }
        specs.push(TriggerSpec {
            id: id.to_string(),
            type_name: type_name.to_string(),
            schedule,
        });
    }
    (specs, problems)
}

/// Kestra's core trigger conditions; each is also known by its old names
/// (`io.kestra.core.models.conditions.types.<Name>Condition`, `...condition.<Name>Condition`).
const CORE_CONDITIONS: &[&str] = &[
    "DateTimeBetween",
    "DayWeek",
    "DayWeekInMonth",
    "ExecutionFlow",
    "ExecutionLabels",
    "ExecutionNamespace",
    "ExecutionOutputs",
    "ExecutionStatus",
    "Expression",
    "HasRetryAttempt",
    "MultipleCondition",
    "Not",
    "Or",
    "PublicHoliday",
    "TimeBetween",
    "Weekend",
    // Deprecated names that never had a short form.
    "FlowCondition",
    "FlowNamespaceCondition",
    "VariableCondition",
];

const NEW_CONDITION_PREFIX: &str = "io.kestra.plugin.core.condition.";
const OLD_CONDITION_PREFIX: &str = "io.kestra.core.models.conditions.types.";

/// The short name of a core condition type, for any of its names.
fn core_condition(type_name: &str) -> Option<&'static str> {
    let rest = type_name
        .strip_prefix(NEW_CONDITION_PREFIX)
        .or_else(|| type_name.strip_prefix(OLD_CONDITION_PREFIX))?;
    CORE_CONDITIONS
        .iter()
        .copied()
        .find(|name| rest == *name || rest.strip_suffix("Condition") == Some(name))
}

/// Every name a core condition is known by, for suggestions.
fn condition_names() -> Vec<String> {
    CORE_CONDITIONS
        .iter()
        .flat_map(|n| {
            [
                format!("{NEW_CONDITION_PREFIX}{n}"),
                format!("{OLD_CONDITION_PREFIX}{n}Condition"),
            ]
        })
        .collect()
}

/// `conditions`: a list of conditions (a map of them in MultipleCondition); each needs a
/// known type, and the core ones the properties Kestra requires.
fn check_conditions(node: &Node, path: &str, problems: &mut Vec<Diagnostic>) {
    let items: Vec<(String, &Node)> = match &node.value {
        NodeValue::Seq(list) => list
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{path}[{i}]"), c))
            .collect(),
        NodeValue::Map(entries) => entries
            .iter()
            .map(|(k, c)| (format!("{path}.{}", k.name), c))
            .collect(),
        NodeValue::Null => return,
        _ => {
            problems.push(Diagnostic::error(
                Problem::InvalidValue {
                    property: path.to_string(),
                    reason: "a list of conditions".into(),
                },
                node.span,
                path.to_string(),
            ));
            return;
        }
    };
    for (at, c) in items {
        let Some(type_node) = c.get("type") else {
            problems.push(Diagnostic::error(
                Problem::Missing {
                    property: format!("{at}.type"),
                },
                c.span,
                format!("{at}.type"),
            ));
            continue;
        };
        let Some(type_name) = type_node.as_str() else {
            continue;
        };
        let Some(name) = core_condition(type_name) else {
            let core = type_name.starts_with(NEW_CONDITION_PREFIX)
                || type_name.starts_with(OLD_CONDITION_PREFIX);
            let problem = if core {
                let names = condition_names();
                Diagnostic::error(
                    Problem::UnknownTaskType {
                        type_name: type_name.to_string(),
                        suggestion: suggest(type_name, names.iter().map(String::as_str)),
                    },
                    type_node.span,
                    format!("{at}.type"),
                )
            } else {
                Diagnostic::warning(
                    Problem::UnknownConditionType {
                        type_name: type_name.to_string(),
                    },
                    type_node.span,
                    format!("{at}.type"),
                )
            };
            problems.push(problem);
            continue;
        };
        let required: &[&str] = match name {
            "ExecutionFlow" => &["namespace", "flowId"],
            "ExecutionNamespace" | "FlowNamespaceCondition" => &["namespace"],
            "Expression" | "VariableCondition" | "ExecutionOutputs" => &["expression"],
            "ExecutionLabels" => &["labels"],
            "DayWeek" => &["dayOfWeek"],
            "DayWeekInMonth" => &["dayOfWeek", "dayInMonth"],
            "FlowCondition" => &["namespace", "flowId"],
            "MultipleCondition" | "Not" | "Or" => &["conditions"],
            _ => &[],
        };
        for key in required {
            if c.get(key).is_none() {
                problems.push(Diagnostic::error(
                    Problem::Missing {
                        property: format!("{at}.{key}"),
                    },
                    c.span,
                    format!("{at}.{key}"),
                ));
            }
        }
        if name == "ExecutionStatus" {
            for key in ["in", "notIn"] {
                if let Some(states) = c.get(key) {
                    check_states(states, &format!("{at}.{key}"), problems);
                }
            }
        }
        if matches!(name, "MultipleCondition" | "Not" | "Or")
            && let Some(inner) = c.get("conditions")
        {
            check_conditions(inner, &format!("{at}.conditions"), problems);
        }
    }
}

/// Kestra's execution and task run states (`State.Type`).
const STATES: &[&str] = &[
    "CREATED",
    "SUBMITTED",
    "RUNNING",
    "PAUSED",
    "RESTARTED",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "QUEUED",
    "RETRYING",
    "RETRIED",
    "SKIPPED",
    "BREAKPOINT",
    "RESUBMITTED",
];

/// A list of state names.
fn check_states(node: &Node, path: &str, problems: &mut Vec<Diagnostic>) {
    let Some(list) = node.as_seq() else {
        if !matches!(node.value, NodeValue::Null) {
            problems.push(Diagnostic::error(
                Problem::InvalidValue {
                    property: path.to_string(),
                    reason: "a list of states (SUCCESS, FAILED, ...)".into(),
                },
                node.span,
                path.to_string(),
            ));
        }
        return;
    };
    for (i, s) in list.iter().enumerate() {
        let text = s.as_str().unwrap_or_default();
        if STATES.contains(&text) {
            continue;
        }
        let reason = match suggest(text, STATES.iter().copied()) {
            Some(near) => format!("`{text}` is not a state; did you mean `{near}`?"),
            None => format!("`{text}` is not a state (one of {})", STATES.join(", ")),
        };
        problems.push(Diagnostic::error(
            Problem::InvalidValue {
                property: format!("{path}[{i}]"),
                reason,
            },
            s.span,
            format!("{path}[{i}]"),
        ));
    }
}

/// A Flow trigger's `preconditions`: upstream flows need a namespace, their states must be
/// states, and the time window one of Kestra's types.
fn check_preconditions(node: &Node, path: &str, problems: &mut Vec<Diagnostic>) {
    if let Some(flows) = node.get("flows").and_then(Node::as_seq) {
        for (i, f) in flows.iter().enumerate() {
            let at = format!("{path}.flows[{i}]");
            if f.get("namespace").is_none() {
                problems.push(Diagnostic::error(
                    Problem::Missing {
                        property: format!("{at}.namespace"),
                    },
                    f.span,
                    format!("{at}.namespace"),
                ));
            }
            if let Some(states) = f.get("states") {
                check_states(states, &format!("{at}.states"), problems);
            }
        }
    }
    if let Some(w) = node.get("timeWindow").and_then(|w| w.get("type")) {
        const WINDOWS: &[&str] = &[
            "DURATION_WINDOW",
            "SLIDING_WINDOW",
            "DAILY_TIME_DEADLINE",
            "DAILY_TIME_WINDOW",
        ];
        let text = w.as_str().unwrap_or_default();
        if !WINDOWS.contains(&text) {
            problems.push(Diagnostic::error(
                Problem::InvalidValue {
                    property: format!("{path}.timeWindow.type"),
                    reason: format!("`{text}` is not one of {}", WINDOWS.join(", ")),
                },
                w.span,
                format!("{path}.timeWindow.type"),
            ));
        }
    }
    if let Some(wh) = node.get("where").and_then(Node::as_seq) {
        for (i, w) in wh.iter().enumerate() {
            if let Some(op) = w.get("operand")
                && !op.as_str().is_some_and(|o| matches!(o, "AND" | "OR"))
            {
                problems.push(Diagnostic::error(
                    Problem::InvalidValue {
                        property: format!("{path}.where[{i}].operand"),
                        reason: "AND or OR".into(),
                    },
                    op.span,
                    format!("{path}.where[{i}].operand"),
                ));
            }
        }
    }
}

fn read_schedule(t: &Node, path: &str, problems: &mut Vec<Diagnostic>) -> Option<Schedule> {
    let with_seconds = matches!(
        t.get("withSeconds").map(|n| &n.value),
        Some(NodeValue::Bool(true))
    );
    let zone = match t.get("timezone") {
        None => TimeZone::system(),
        Some(z) => match z.as_str().map(TimeZone::get) {
            Some(Ok(zone)) => zone,
            _ => {
                problems.push(Diagnostic::error(
                    Problem::InvalidValue {
                        property: format!("{path}.timezone"),
                        reason: "not a time zone (for example Europe/Paris or UTC)".into(),
                    },
                    z.span,
                    format!("{path}.timezone"),
                ));
                return None;
            }
        },
    };
    if let Some(r) = t.get("recoverMissedSchedules")
        && !r
            .as_str()
            .is_some_and(|s| matches!(s, "LAST" | "NONE" | "ALL"))
    {
        problems.push(Diagnostic::error(
            Problem::InvalidValue {
                property: format!("{path}.recoverMissedSchedules"),
                reason: "one of LAST, NONE, ALL".into(),
            },
            r.span,
            format!("{path}.recoverMissedSchedules"),
        ));
    }
    let Some(cron_node) = t.get("cron") else {
        problems.push(Diagnostic::error(
            Problem::Missing {
                property: format!("{path}.cron"),
            },
            t.span,
            format!("{path}.cron"),
        ));
        return None;
    };
    let text = cron_node.as_str().unwrap_or_default();
    match Cron::parse(text, with_seconds) {
        Ok(cron) => Some(Schedule { cron, zone }),
        Err(reason) => {
            problems.push(Diagnostic::error(
                Problem::InvalidValue {
                    property: format!("{path}.cron"),
                    reason: format!("invalid cron expression '{text}': {reason}"),
                },
                cron_node.span,
                format!("{path}.cron"),
            ));
            None
        }
    }
}

/// A cron expression: the set of allowed values of each field.
#[derive(Clone, Debug, PartialEq)]
pub struct Cron {
    seconds: Vec<bool>,
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Either day field restricted: cron's rule is then "day-of-month OR day-of-week".
    day_restricted: bool,
    weekday_restricted: bool,
    /// The day fields' `L`, `W` and `#` forms, which depend on the month.
    day_rules: Vec<DayRule>,
}

/// A day that depends on its month: Kestra's (cron-utils') `L`, `W` and `#`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayRule {
    /// `L` (day of month): the last day, or `L-n`, n days before it.
    Last(u8),
    /// `nW`: the weekday (Monday to Friday) nearest day n, within the month.
    NearestWeekday(u8),
    /// `LW`: the last weekday of the month.
    LastWeekday,
    /// `nL` (day of week): the last such weekday of the month (0 = Sunday).
    LastOf(u8),
    /// `n#k` (day of week): the k-th such weekday of the month.
    Nth(u8, u8),
}

impl DayRule {
    fn matches(self, date: jiff::civil::Date) -> bool {
        let last = date.last_of_month().day();
        let weekday = |d: jiff::civil::Date| d.weekday().to_sunday_zero_offset() as u8;
        match self {
            DayRule::Last(n) => i16::from(date.day()) == i16::from(last) - i16::from(n),
            DayRule::LastWeekday => {
                let mut d = date.last_of_month();
                while matches!(weekday(d), 0 | 6) {
                    d = d.yesterday().unwrap_or(d);
                }
                d == date
            }
            DayRule::NearestWeekday(n) => {
                let Ok(target) = date.with().day(n as i8).build() else {
                    return false;
                };
                let nearest = match weekday(target) {
                    // Saturday: the Friday before, unless that leaves the month.
                    6 if target.day() > 1 => target.yesterday().unwrap_or(target),
                    6 => target
                        .tomorrow()
                        .and_then(|d| d.tomorrow())
                        .unwrap_or(target),
                    // Sunday: the Monday after, unless that leaves the month.
                    0 if target.day() < last => target.tomorrow().unwrap_or(target),
                    0 => target
                        .yesterday()
                        .and_then(|d| d.yesterday())
                        .unwrap_or(target),
                    _ => target,
                };
                nearest == date
            }
            DayRule::LastOf(wd) => weekday(date) == wd && date.day() + 7 > last,
            DayRule::Nth(wd, k) => weekday(date) == wd && (date.day() - 1) / 7 + 1 == k as i8,
        }
    }
}

/// Takes the `L`, `W` and `#` parts out of a day field, as rules; returns the rest of the
/// field (or `*` when nothing else is left, which the rules then restrict).
fn day_rules(text: &str, weekday: bool, rules: &mut Vec<DayRule>) -> Result<String, String> {
    let mut rest = Vec::new();
    for part in text.split(',') {
        let upper = part.to_ascii_uppercase();
        // Day names hold an `L` or a `W` of their own (`WED`, `SAT-SUN` are plain values).
        let unnamed = DAYS.iter().fold(upper.clone(), |t, d| t.replace(d, ""));
        if !unnamed.contains(['L', 'W', '#']) {
            rest.push(part.to_string());
            continue;
        }
        let bad = || format!("Invalid chars in expression! Expression: {part}");
        let weekday_of = |s: &str| -> Result<u8, String> {
            if let Some(i) = DAYS.iter().position(|d| *d == s) {
                return Ok(i as u8);
            }
            let n: u8 = s.parse().map_err(|_| bad())?;
            if n > 7 {
                return Err(format!("Value {n} not in range [0, 7]"));
            }
            Ok(n % 7)
        };
        let rule = if weekday {
            if upper == "L" {
                // The last day of the week: Saturday.
                rest.push("6".to_string());
                continue;
            } else if let Some(day) = upper.strip_suffix('L') {
                DayRule::LastOf(weekday_of(day)?)
            } else if let Some((day, nth)) = upper.split_once('#') {
                let k: u8 = nth.parse().map_err(|_| bad())?;
                if !(1..=5).contains(&k) {
                    return Err(format!("Value {k} not in range [1, 5]"));
                }
                DayRule::Nth(weekday_of(day)?, k)
            } else {
                return Err(bad());
            }
        } else if upper == "L" {
            DayRule::Last(0)
        } else if upper == "LW" {
            DayRule::LastWeekday
        } else if let Some(n) = upper.strip_prefix("L-") {
            let n: u8 = n.parse().map_err(|_| bad())?;
            if n > 30 {
                return Err(format!("Value {n} not in range [0, 30]"));
            }
            DayRule::Last(n)
        } else if let Some(n) = upper.strip_suffix('W') {
            let n: u8 = n.parse().map_err(|_| bad())?;
            if !(1..=31).contains(&n) {
                return Err(format!("Value {n} not in range [1, 31]"));
            }
            DayRule::NearestWeekday(n)
        } else {
            return Err(bad());
        };
        rules.push(rule);
    }
    Ok(rest.join(","))
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    /// Five fields (six `withSeconds`), or a nickname (`@daily`...).
    pub fn parse(text: &str, with_seconds: bool) -> Result<Cron, String> {
        let expanded = match text.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let mut fields: Vec<&str> = expanded.split_whitespace().collect();
        let want = if with_seconds && !text.trim().starts_with('@') {
            6
        } else {
            5
        };
        if fields.len() != want {
            return Err(format!(
                "Cron expression contains {} parts but we expect one of [{want}]",
                fields.len()
            ));
        }
        if want == 5 {
            fields.insert(0, "0");
        }
        let mut day_rules_found = Vec::new();
        let day_text = day_rules(fields[3], false, &mut day_rules_found)?;
        let weekday_text = day_rules(fields[5], true, &mut day_rules_found)?;
        let seconds = field(fields[0], 0, 59, &[])?;
        let minutes = field(fields[1], 0, 59, &[])?;
        let hours = field(fields[2], 0, 23, &[])?;
        let days = field(&day_text, 1, 31, &[])?;
        let months = field(fields[4], 1, 12, &MONTHS)?;
        let mut weekdays = field(&weekday_text, 0, 7, &DAYS)?;
        // 7 is Sunday too.
        if weekdays[7] {
            weekdays[0] = true;
        }
        let restricted = |f: &str| !matches!(f, "*" | "?");
        Ok(Cron {
            seconds,
            minutes,
            hours,
            days,
            months,
            weekdays,
            day_restricted: restricted(fields[3]),
            weekday_restricted: restricted(fields[5]),
            day_rules: day_rules_found,
        })
    }

    fn matches(&self, t: &DateTime) -> bool {
        let ruled = |weekday: bool| {
            self.day_rules
                .iter()
                .filter(|r| matches!(r, DayRule::LastOf(_) | DayRule::Nth(..)) == weekday)
                .any(|r| r.matches(t.date()))
        };
        let day_ok = self.days[t.day() as usize] || ruled(false);
        let weekday_ok = self.weekdays[t.weekday().to_sunday_zero_offset() as usize] || ruled(true);
        let date_ok = match (self.day_restricted, self.weekday_restricted) {
            (true, true) => day_ok || weekday_ok,
            (true, false) => day_ok,
            (false, true) => weekday_ok,
            (false, false) => true,
        };
        date_ok
            && self.months[t.month() as usize]
            && self.hours[t.hour() as usize]
            && self.minutes[t.minute() as usize]
            && self.seconds[t.second() as usize]
    }
}

/// One field's allowed values, `min..=max`, as flags indexed by value.
fn field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<Vec<bool>, String> {
    let mut allowed = vec![false; max as usize + 1];
    // A day field that held only `L`, `W` or `#` forms: its rules say which days.
    if text.is_empty() {
        return Ok(allowed);
    }
    let value = |s: &str| -> Result<u32, String> {
        let upper = s.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == upper) {
            // Months are 1-based, days 0-based.
            return Ok(if names.len() == 12 {
                i as u32 + 1
            } else {
                i as u32
            });
        }
        let n: u32 = s
            .parse()
            .map_err(|_| format!("Invalid chars in expression! Expression: {s}"))?;
        if n < min || n > max {
            return Err(format!("Value {n} not in range [{min}, {max}]"));
        }
        Ok(n)
    };
    for part in text.split(',') {
        if part.is_empty() {
            return Err("Empty value in a list".into());
        }
        if part == "?" {
            allowed.iter_mut().for_each(|a| *a = true);
            continue;
        }
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("Invalid step in expression! Expression: {part}"))?;
                (r, step)
            }
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("Invalid range! [{a},{b}]"));
            }
            (a, b)
        } else {
            let a = value(range)?;
            (a, if part.contains('/') { max } else { a })
        };
        let mut v = from;
        while v <= to {
            allowed[v as usize] = true;
            v += step;
        }
    }
    Ok(allowed)
}

impl Schedule {
    /// `trigger.date`, `next` and `previous` for a run at `date` (default: the last time the
    /// cron fired), as Kestra gives them: ISO date-times in the schedule's zone.
    pub fn variables(
        &self,
        id: &str,
        type_name: &str,
        date: Option<Zoned>,
    ) -> Result<Json, String> {
        let now = Timestamp::now().to_zoned_datetime(self.zone.clone());
        let date = match date {
            Some(d) => d.with_time_zone(self.zone.clone()),
            None => self.step(&now, false, true)?,
        };
        let next = self.step(&date, true, false)?;
        let previous = self.step(&date, false, false)?;
        let iso = |z: &Zoned| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        Ok(json!({
            "id": id,
            "type": type_name,
            "date": iso(&date),
            "next": iso(&next),
            "previous": iso(&previous),
        }))
    }

    /// The first time the cron fires after `from` (or before it), `from` itself counting when
    /// `inclusive`. Looks at most about five years away.
    fn step(&self, from: &Zoned, forward: bool, inclusive: bool) -> Result<Zoned, String> {
        let mut t = from
            .datetime()
            .round(jiff::Unit::Second)
            .map_err(|e| e.to_string())?;
        if !inclusive {
            t = if forward {
                t.checked_add(1.second())
            } else {
                t.checked_sub(1.second())
            }
            .map_err(|e| e.to_string())?;
        }
        for _ in 0..(5 * 366 * 24 * 60) {
            // Whole minutes that cannot match are skipped at once.
            let minute_ok = self.cron.minutes[t.minute() as usize]
                && self.cron.hours[t.hour() as usize]
                && self.cron.months[t.month() as usize];
            if minute_ok {
                let seconds: Vec<u32> = (0..60u32)
                    .filter(|s| self.cron.seconds[*s as usize])
                    .collect();
                let ordered: Box<dyn Iterator<Item = &u32>> = if forward {
                    Box::new(seconds.iter())
                } else {
                    Box::new(seconds.iter().rev())
                };
                for &s in ordered {
                    let candidate = t
                        .with()
                        .second(s as i8)
                        .build()
                        .map_err(|e| e.to_string())?;
                    let in_order = if forward {
                        candidate >= t
                    } else {
                        candidate <= t
                    };
                    if in_order && self.cron.matches(&candidate) {
                        return candidate
                            .to_zoned_datetime(self.zone.clone())
                            .map_err(|e| e.to_string());
                    }
                }
            }
            t = if forward {
                t.with()
                    .second(0)
                    .build()
                    .and_then(|m| m.checked_add(1.minute()))
            } else {
                t.with()
                    .second(59)
                    .build()
                    .and_then(|m| m.checked_sub(1.minute()))
            }
            .map_err(|e| e.to_string())?;
        }
        Err("the cron fires in none of the next five years".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crons_are_read_as_kestra_reads_them() {
        // What each accepted form means: the fire times that follow a date.
        let next = |cron: &str, seconds: bool, at: &str| {
            let s = Schedule {
                cron: Cron::parse(cron, seconds).unwrap(),
                zone: TimeZone::UTC,
            };
            let at: Zoned = format!("{at}+00:00[UTC]").parse().unwrap();
            s.variables("t", "x", Some(at)).unwrap()["next"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // Friday 17:50 -> 18:00 is outside 9-17: Monday 09:00.
        assert_eq!(
            next("*/15 9-17 * * MON-FRI", false, "2026-12-04T17:50:00"),
            "2026-12-07T09:00:00+00:00"
        );
        assert_eq!(
            next("@daily", false, "2026-12-04T17:50:00"),
            "2026-12-05T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 1,15 JAN,jul ?", false, "2026-01-15T12:00:00"),
            "2026-07-01T00:00:00+00:00"
        );
        // `L`: the last day of the month, February's included.
        assert_eq!(
            next("0 0 L * *", false, "2026-02-10T00:00:00"),
            "2026-02-28T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 L * *", false, "2028-02-28T00:00:00"),
            "2028-02-29T00:00:00+00:00"
        );
        assert_eq!(
            next("*/5 * * * * *", true, "2026-01-01T00:00:07"),
            "2026-01-01T00:00:10+00:00"
        );
        assert_eq!(
            next("0 0 L-2 * *", false, "2026-04-01T00:00:00"),
            "2026-04-28T00:00:00+00:00"
        );
        // 2026-05-31 is a Sunday: the last weekday is Friday the 29th.
        assert_eq!(
            next("0 0 LW * *", false, "2026-05-01T00:00:00"),
            "2026-05-29T00:00:00+00:00"
        );
        // 2026-08-15 is a Saturday: the nearest weekday is Friday the 14th; 2026-02-01 is a
        // Sunday, and the nearest weekday within the month is Monday the 2nd.
        assert_eq!(
            next("0 0 15W * *", false, "2026-08-01T00:00:00"),
            "2026-08-14T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 1W * *", false, "2026-01-31T00:00:00"),
            "2026-02-02T00:00:00+00:00"
        );
        // The last Friday, the third Monday.
        assert_eq!(
            next("0 0 * * 5L", false, "2026-12-01T00:00:00"),
            "2026-12-25T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 * * MON#3", false, "2026-12-01T00:00:00"),
            "2026-12-21T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 * * WED-FRI", false, "2026-12-05T00:00:00"),
            "2026-12-09T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 * * WEDL", false, "2026-12-01T00:00:00"),
            "2026-12-30T00:00:00+00:00"
        );
        assert_eq!(
            Cron::parse("not a cron", false).unwrap_err(),
            "Cron expression contains 3 parts but we expect one of [5]"
        );
        assert_eq!(
            Cron::parse("61 * * * *", false).unwrap_err(),
            "Value 61 not in range [0, 59]"
        );
        assert_eq!(
            Cron::parse("0 0 32 * *", false).unwrap_err(),
            "Value 32 not in range [1, 31]"
        );
        assert!(Cron::parse("0 0 * * 8", false).is_err());
        assert!(Cron::parse("*/0 * * * *", false).is_err());
        assert!(Cron::parse("5-1 * * * *", false).is_err());
        assert!(Cron::parse("* * * * * *", false).is_err());
    }

    #[test]
    fn a_schedule_gives_date_next_and_previous() {
        let s = Schedule {
            cron: Cron::parse("30 6 * * MON", false).unwrap(),
            zone: TimeZone::get("Europe/Paris").unwrap(),
        };
        let at: Zoned = "2026-12-02T10:00:00+01:00[Europe/Paris]".parse().unwrap();
        let v = s.variables("t", "x", Some(at)).unwrap();
        assert_eq!(v["date"], "2026-12-02T10:00:00+01:00");
        assert_eq!(v["next"], "2026-12-07T06:30:00+01:00");
        assert_eq!(v["previous"], "2026-11-30T06:30:00+01:00");
        let daily = Schedule {
            cron: Cron::parse("@daily", false).unwrap(),
            zone: TimeZone::UTC,
        };
        let v = daily.variables("t", "x", None).unwrap();
        let date: jiff::Timestamp = v["date"].as_str().unwrap().parse().unwrap();
        assert!(date <= Timestamp::now());
        assert!(v["date"].as_str().unwrap().ends_with("T00:00:00+00:00"));
        let secs = Schedule {
            cron: Cron::parse("*/20 * * * * *", true).unwrap(),
            zone: TimeZone::UTC,
        };
        let at: Zoned = "2026-01-01T00:00:05+00:00[UTC]".parse().unwrap();
        let v = secs.variables("t", "x", Some(at)).unwrap();
        assert_eq!(v["next"], "2026-01-01T00:00:20+00:00");
        assert_eq!(v["previous"], "2026-01-01T00:00:00+00:00");
    }
}
