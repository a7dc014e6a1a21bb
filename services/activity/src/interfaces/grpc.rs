//! gRPC ⇄ use cases: `crm.activity.v1.TaskService`, `ActivityService` and `TimelineService`.
//! Decoding requests (ids, masks, page tokens, enums) and encoding responses; no rules here.

use crm_core::api::{self, bounded, mask_paths, millis};
use crm_core::{Error, RequestContext, UserId};
use crm_proto::crm::activity::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::application::{Activities, Caller};
use crate::domain::activity::UPDATABLE as ACTIVITY_FIELDS;
use crate::domain::messages::{
    activity_input, activity_pb, entry_kind_of, entry_pb, kind_of, record_of, task_input, task_pb,
};
use crate::domain::ports::{ActivityQuery, Cursor, TaskQuery};
use crate::domain::records::RecordRef;
use crate::domain::task::{Status as TaskStatus, UPDATABLE as TASK_FIELDS};

/// The activity context's three services over [`Activities`].
#[derive(Clone)]
pub struct ActivityGrpc {
    app: Activities,
}

impl ActivityGrpc {
    /// Serves `app`.
    pub fn new(app: Activities) -> ActivityGrpc {
        ActivityGrpc { app }
    }
}

type Reply<T> = Result<Response<T>, Status>;

const MAX_ETAG: usize = 64;

fn caller<T>(request: &Request<T>) -> Result<Caller, Error> {
    let context = RequestContext::of(request)?;
    Ok(Caller {
        principal: context.principal()?.clone(),
        causation: crm_events::Causation::of_request(context),
    })
}

fn id(field: &str, raw: &str, what: &str) -> Result<Uuid, Error> {
    api::uuid(field, raw, what)
}

fn record(field: &str, r: Option<&pb::RecordRef>) -> Result<Option<RecordRef>, Error> {
    r.filter(|r| r.r#type != 0 || !r.id.is_empty())
        .map(|r| record_of(r, field).map_err(|(f, d)| Error::invalid_field(f, d)))
        .transpose()
}

/// A cursor as a page token's text: the time, then the id.
fn cursor_text(c: &Cursor) -> String {
    format!("{}:{}", c.at, c.id)
}

fn cursor(text: Option<String>) -> Result<Option<Cursor>, Error> {
    let bad = || Error::invalid_field("page_token", "is not a page token of this list");
    text.map(|t| {
        let (at, id) = t.split_once(':').ok_or_else(bad)?;
        Ok(Cursor {
            at: at.parse().map_err(|_| bad())?,
            id: Uuid::try_parse(id).map_err(|_| bad())?,
        })
    })
    .transpose()
}

fn token(list: &str, next: Option<Cursor>) -> String {
    next.map(|c| api::page_token(list, &cursor_text(&c)))
        .unwrap_or_default()
}

fn status_of(raw: i32) -> Result<Option<TaskStatus>, Error> {
    Ok(match api::enum_filter::<pb::TaskStatus>("status", raw)? {
        Some(pb::TaskStatus::Open) => Some(TaskStatus::Open),
        Some(pb::TaskStatus::Done) => Some(TaskStatus::Done),
        Some(pb::TaskStatus::Cancelled) => Some(TaskStatus::Cancelled),
        Some(pb::TaskStatus::Unspecified) | None => None,
    })
}

#[tonic::async_trait]
impl pb::task_service_server::TaskService for ActivityGrpc {
    async fn create_task(
        &self,
        request: Request<pb::CreateTaskRequest>,
    ) -> Reply<pb::CreateTaskResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let task = r
            .task
            .as_ref()
            .ok_or_else(|| Error::invalid_field("task", "is required"))?;
        let response = self
            .app
            .idempotency()
            .once(
                &caller.principal,
                "tasks.write",
                "CreateTask",
                &r.request_id,
                &r,
                || async {
                    let input = task_input(task).map_err(Error::invalid_fields)?;
                    let task = self.app.create_task(&caller, input).await?;
                    Ok(pb::CreateTaskResponse {
                        task: Some(task_pb(&task)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_task(&self, request: Request<pb::GetTaskRequest>) -> Reply<pb::GetTaskResponse> {
        let caller = caller(&request)?;
        let id = id("id", &request.get_ref().id, "a task id")?;
        let task = self.app.task(&caller, id).await?;
        Ok(Response::new(pb::GetTaskResponse {
            task: Some(task_pb(&task)),
        }))
    }

    async fn update_task(
        &self,
        request: Request<pb::UpdateTaskRequest>,
    ) -> Reply<pb::UpdateTaskResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let task = r
            .task
            .ok_or_else(|| Error::invalid_field("task", "is required"))?;
        let id = id("task.id", &task.id, "a task id")?;
        bounded("task.etag", &task.etag, MAX_ETAG)?;
        let set = [
            ("title", !task.title.is_empty()),
            ("notes", !task.notes.is_empty()),
            ("due_time", task.due_time.is_some()),
            ("time_zone", !task.time_zone.is_empty()),
            ("assignee_id", !task.assignee_id.is_empty()),
            ("priority", task.priority != 0),
            ("related", !task.related.is_empty()),
            ("recurrence", task.recurrence.is_some()),
            ("remind_by_email", task.remind_by_email),
        ];
        let paths = mask_paths(r.update_mask, &set, TASK_FIELDS)?;
        let input = task_input(&task).map_err(Error::invalid_fields)?;
        let task = self
            .app
            .update_task(&caller, id, input, paths, task.etag)
            .await?;
        Ok(Response::new(pb::UpdateTaskResponse {
            task: Some(task_pb(&task)),
        }))
    }

    async fn complete_task(
        &self,
        request: Request<pb::CompleteTaskRequest>,
    ) -> Reply<pb::CompleteTaskResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let id = id("id", &r.id, "a task id")?;
        bounded("etag", &r.etag, MAX_ETAG)?;
        let (task, next) = self.app.complete_task(&caller, id, r.etag).await?;
        Ok(Response::new(pb::CompleteTaskResponse {
            task: Some(task_pb(&task)),
            next: next.as_ref().map(task_pb),
        }))
    }

    async fn cancel_task(
        &self,
        request: Request<pb::CancelTaskRequest>,
    ) -> Reply<pb::CancelTaskResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let id = id("id", &r.id, "a task id")?;
        bounded("etag", &r.etag, MAX_ETAG)?;
        let task = self.app.cancel_task(&caller, id, r.etag).await?;
        Ok(Response::new(pb::CancelTaskResponse {
            task: Some(task_pb(&task)),
        }))
    }

    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Reply<pb::ListTasksResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let page = api::page("tasks", r.page_size, &r.page_token)?;
        let filter = TaskQuery {
            assignee: api::optional_uuid("assignee_id", &r.assignee_id, "a user id")?
                .map(UserId::from),
            status: status_of(r.status)?,
            record: record("record", r.record.as_ref())?,
            due_from: r.due_after.as_ref().map(millis),
            due_before: r.due_before.as_ref().map(millis),
            reach: None,
            after: cursor(page.after)?,
            limit: page.size,
        };
        let found = self.app.list_tasks(&caller, filter).await?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks: found.tasks.iter().map(task_pb).collect(),
            next_page_token: token("tasks", found.next),
        }))
    }

    async fn get_my_day(
        &self,
        request: Request<pb::GetMyDayRequest>,
    ) -> Reply<pb::GetMyDayResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        bounded("time_zone", &r.time_zone, 64)?;
        let page = api::page("my-day", r.page_size, "")?;
        let day = self.app.my_day(&caller, &r.time_zone, page.size).await?;
        Ok(Response::new(pb::GetMyDayResponse {
            overdue: day.overdue.iter().map(task_pb).collect(),
            today: day.today.iter().map(task_pb).collect(),
            upcoming: day.upcoming.iter().map(task_pb).collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::activity_service_server::ActivityService for ActivityGrpc {
    async fn log_activity(
        &self,
        request: Request<pb::LogActivityRequest>,
    ) -> Reply<pb::LogActivityResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let activity = r
            .activity
            .as_ref()
            .ok_or_else(|| Error::invalid_field("activity", "is required"))?;
        let window = self.app.settings().edit_window_minutes;
        let response = self
            .app
            .idempotency()
            .once(
                &caller.principal,
                "activities.write",
                "LogActivity",
                &r.request_id,
                &r,
                || async {
                    let input = activity_input(activity).map_err(Error::invalid_fields)?;
                    let a = self.app.log_activity(&caller, input).await?;
                    Ok(pb::LogActivityResponse {
                        activity: Some(activity_pb(&a, window)),
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_activity(
        &self,
        request: Request<pb::GetActivityRequest>,
    ) -> Reply<pb::GetActivityResponse> {
        let caller = caller(&request)?;
        let id = id("id", &request.get_ref().id, "an activity id")?;
        let a = self.app.activity(&caller, id).await?;
        Ok(Response::new(pb::GetActivityResponse {
            activity: Some(activity_pb(&a, self.app.settings().edit_window_minutes)),
        }))
    }

    async fn update_activity(
        &self,
        request: Request<pb::UpdateActivityRequest>,
    ) -> Reply<pb::UpdateActivityResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let a = r
            .activity
            .ok_or_else(|| Error::invalid_field("activity", "is required"))?;
        let id = id("activity.id", &a.id, "an activity id")?;
        bounded("activity.etag", &a.etag, MAX_ETAG)?;
        let set = [
            ("occur_time", a.occur_time.is_some()),
            ("duration_seconds", a.duration_seconds != 0),
            ("direction", a.direction != 0),
            ("participants", !a.participants.is_empty()),
            ("outcome", !a.outcome.is_empty()),
            ("subject", !a.subject.is_empty()),
            ("body", !a.body.is_empty()),
            ("related", !a.related.is_empty()),
        ];
        let paths = mask_paths(r.update_mask, &set, ACTIVITY_FIELDS)?;
        let input = activity_input(&a).map_err(Error::invalid_fields)?;
        let updated = self
            .app
            .update_activity(&caller, id, input, paths, a.etag)
            .await?;
        Ok(Response::new(pb::UpdateActivityResponse {
            activity: Some(activity_pb(
                &updated,
                self.app.settings().edit_window_minutes,
            )),
        }))
    }

    async fn delete_activity(
        &self,
        request: Request<pb::DeleteActivityRequest>,
    ) -> Reply<pb::DeleteActivityResponse> {
        let caller = caller(&request)?;
        let id = id("id", &request.get_ref().id, "an activity id")?;
        self.app.delete_activity(&caller, id).await?;
        Ok(Response::new(pb::DeleteActivityResponse {}))
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Reply<pb::ListActivitiesResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let page = api::page("activities", r.page_size, &r.page_token)?;
        let mut kinds = Vec::new();
        for (i, k) in r.kinds.iter().enumerate() {
            match kind_of(*k) {
                Ok(Some(kind)) => kinds.push(kind),
                Ok(None) => {}
                Err(wrong) => return Err(Error::invalid_field(format!("kinds[{i}]"), wrong).into()),
            }
        }
        let query = ActivityQuery {
            record: record("record", r.record.as_ref())?,
            kinds,
            author: api::optional_uuid("author_id", &r.author_id, "a user id")?.map(UserId::from),
            words: Vec::new(),
            reach: None,
            before: cursor(page.after)?,
            limit: page.size,
        };
        let found = self.app.list_activities(&caller, query).await?;
        let window = self.app.settings().edit_window_minutes;
        Ok(Response::new(pb::ListActivitiesResponse {
            activities: found
                .activities
                .iter()
                .map(|a| activity_pb(a, window))
                .collect(),
            next_page_token: token("activities", found.next),
        }))
    }

    async fn search_activities(
        &self,
        request: Request<pb::SearchActivitiesRequest>,
    ) -> Reply<pb::SearchActivitiesResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        bounded(
            "query",
            &r.query,
            4 * crate::application::activities::MAX_QUERY_CHARS,
        )?;
        let page = api::page("activity-search", r.page_size, "")?;
        let found = self
            .app
            .search_activities(&caller, &r.query, page.size)
            .await?;
        let window = self.app.settings().edit_window_minutes;
        Ok(Response::new(pb::SearchActivitiesResponse {
            activities: found.iter().map(|a| activity_pb(a, window)).collect(),
        }))
    }

    async fn list_activity_changes(
        &self,
        request: Request<pb::ListActivityChangesRequest>,
    ) -> Reply<pb::ListActivityChangesResponse> {
        let caller = caller(&request)?;
        let id = id("id", &request.get_ref().id, "an activity id")?;
        let changes = self.app.activity_changes(&caller, id).await?;
        let window = self.app.settings().edit_window_minutes;
        Ok(Response::new(pb::ListActivityChangesResponse {
            changes: changes
                .iter()
                .map(|c| pb::ActivityChange {
                    user_id: c.user_id.to_string(),
                    change_time: Some(api::timestamp(c.at)),
                    action: c.action.clone(),
                    changed_fields: c.changed_fields.clone(),
                    before: c.before.as_ref().map(|a| activity_pb(a, window)),
                })
                .collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::timeline_service_server::TimelineService for ActivityGrpc {
    async fn list_timeline(
        &self,
        request: Request<pb::ListTimelineRequest>,
    ) -> Reply<pb::ListTimelineResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let record = record("record", r.record.as_ref())?.ok_or_else(|| {
            Error::invalid_field("record", "is required: the record's type and id")
        })?;
        let mut kinds = Vec::new();
        for (i, k) in r.kinds.iter().enumerate() {
            match (*k, entry_kind_of(*k)) {
                (0, _) => {}
                (_, Some(kind)) => kinds.push(kind),
                (_, None) => {
                    return Err(Error::invalid_field(
                        format!("kinds[{i}]"),
                        "is not a kind of the contract",
                    )
                    .into());
                }
            }
        }
        // The record is part of the list's name: a token of another record's timeline is
        // refused.
        let list = format!("timeline/{}/{}", record.record_type.as_str(), record.id);
        let page = api::page(&list, r.page_size, &r.page_token)?;
        let found = self
            .app
            .timeline(&caller, record, kinds, cursor(page.after)?, page.size)
            .await?;
        Ok(Response::new(pb::ListTimelineResponse {
            entries: found.entries.iter().map(entry_pb).collect(),
            next_page_token: token(&list, found.next),
        }))
    }
}
