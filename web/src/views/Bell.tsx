import { useEffect, useState } from "preact/hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import { notifications } from "../api";
import { Channel, type Notification } from "../gen/crm/notification/v1/notifications_pb";
import type { Problem } from "../errors";
import { t } from "../i18n";

type Props = { userId: string; onError: (err: unknown) => Problem };

/** In-app notifications, live: WatchNotifications over grpc-web, the unread ones first. */
export function Bell({ userId, onError }: Props) {
  const [unread, setUnread] = useState<Notification[]>([]);
  const [open, setOpen] = useState(false);

  useEffect(() => {
    const stop = new AbortController();
    const add = (n: Notification) => {
      if (n.channel !== Channel.IN_APP || n.readTime || n.recipientUserId !== userId) return;
      setUnread((all) => (all.some((a) => a.id === n.id) ? all : [n, ...all]));
    };
    const resync = async () => {
      const { notifications: list } = await notifications.listNotifications(
        // One's own: those allowed to read everyone's would otherwise get them all.
        { unreadOnly: true, channel: Channel.IN_APP, recipientUserId: userId, pageSize: 50 },
        { signal: stop.signal },
      );
      setUnread(list);
    };
    (async () => {
      // Watch until signed out; after a dropped stream, watch again a moment later.
      while (!stop.signal.aborted) {
        try {
          for await (const message of notifications.watchNotifications({ includeUnread: true }, { signal: stop.signal })) {
            if (message.resync) await resync();
            if (message.notification) add(message.notification);
          }
        } catch (err) {
          if (stop.signal.aborted) return;
          if (ConnectError.from(err).code === Code.Unauthenticated) {
            onError(err);
            return;
          }
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    return () => stop.abort();
  }, []);

  const markRead = async (n: Notification) => {
    try {
      await notifications.markNotificationRead({ id: n.id });
      setUnread((all) => all.filter((a) => a.id !== n.id));
    } catch (err) {
      onError(err);
    }
  };

  // Every unread notice at once; those the CRM could not mark stay listed.
  const markAll = async () => {
    const marked = await Promise.allSettled(unread.map((n) => notifications.markNotificationRead({ id: n.id }).then(() => n.id)));
    const done = new Set(marked.flatMap((m) => (m.status === "fulfilled" ? [m.value] : [])));
    setUnread((all) => all.filter((a) => !done.has(a.id)));
    const failed = marked.find((m): m is PromiseRejectedResult => m.status === "rejected");
    if (failed) onError(failed.reason);
  };

  return (
    <div class="bell">
      <button
        type="button"
        class="secondary"
        aria-expanded={open}
        aria-controls="bell-panel"
        onClick={() => setOpen(!open)}
        aria-label={t("Notifications, {{unread}} unread", { unread: unread.length })}
      >
        <svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">
          <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
          <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
        </svg>{" "}
        <span class="count">{unread.length}</span>
      </button>
      {open && (
        <div id="bell-panel" class="bell-panel" role="region" aria-label={t("Unread notifications")}>
          {unread.length === 0 && <p class="empty">{t("Nothing new.")}</p>}
          {unread.length > 1 && (
            <button type="button" class="link" onClick={markAll}>
              {t("Mark all read")}
            </button>
          )}
          {unread.map((n) => (
            <div key={n.id} class="note">
              <strong>{n.subject}</strong>
              <p>{n.body}</p>
              {n.link && (
                <a href={`#${n.link}`} onClick={() => (markRead(n), setOpen(false))}>
                  {t("Open")}
                </a>
              )}
              <button type="button" class="link" onClick={() => markRead(n)} aria-label={t("Mark read: {{subject}}", { subject: n.subject })}>
                {t("Mark read")}
              </button>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
