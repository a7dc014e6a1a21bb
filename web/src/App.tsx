import type { ComponentChildren } from "preact";
import { useEffect, useErrorBoundary, useState } from "preact/hooks";
import { auth, useToken } from "./api";
import { describe } from "./errors";
import { allows, claims, grants, reach, indexedDb, load, refreshDelay, renew, save, watchOtherTabs, type Session } from "./session";
import { SignIn } from "./views/SignIn";
import { Join, invitationToken, type Joined } from "./views/Join";
import { Customers } from "./views/Customers";
import { Pipeline } from "./views/Pipeline";
import { Bell } from "./views/Bell";
import { Admin } from "./views/Admin";
import { Account } from "./views/Account";
import { Settings } from "./views/Settings";
import { Messages } from "./views/Messages";
import { MyDay } from "./views/MyDay";
import { Deals } from "./views/Deals";
import { ShortcutsHelp, skipToContent } from "./views/Shortcuts";
import { Search } from "./views/Search";
import { shortcutOf } from "./shortcuts";
import { chooseLanguage, language, msg, setLanguage, t, type Language } from "./i18n";
import { tenants, users } from "./api";

/** The screens, by the address's hash, and the permission a screen needs to be offered. */
const SCREENS: { hash: string; label: string; needs?: string }[] = [
  { hash: "#day", label: msg("My day"), needs: "tasks.read" },
  { hash: "#customers", label: msg("Customers") },
  { hash: "#pipeline", label: msg("Pipeline") },
  { hash: "#deals", label: msg("Deals"), needs: "opportunities.read" },
  { hash: "#dashboard", label: msg("Dashboard") },
  { hash: "#admin", label: msg("People") },
  { hash: "#messages", label: msg("Messages"), needs: "templates.manage" },
  { hash: "#settings", label: msg("Workspace"), needs: "tenant.manage" },
  { hash: "#account", label: msg("Account") },
];

/** The screen the address names (`#customers/<id>` is the customers screen, a customer open;
 * `#customers?sort=name` the customers screen shown so), or "" for the landing screen. */
function currentScreen(): string {
  const base = window.location.hash.split(/[/?]/)[0];
  return SCREENS.some((s) => s.hash === base) ? base : "";
}

export function App() {
  const [session, setSession] = useState<Session | undefined>(() => load());
  const [notice, setNotice] = useState<string>();
  const [chosen, setScreen] = useState(currentScreen);
  // The dashboard and its chart library load the first time it is shown.
  const [Dashboard, setDashboard] = useState<typeof import("./views/Dashboard").Dashboard>();
  const [unloaded, setUnloaded] = useState(false);
  useEffect(() => {
    if (chosen === "#dashboard" && !Dashboard) {
      setUnloaded(false);
      import("./views/Dashboard").then((m) => setDashboard(() => m.Dashboard)).catch(() => setUnloaded(true));
    }
  }, [chosen]);
  // An invitation's link opened (`#invitation/<token>`), and who has just joined by one.
  const [invitation, setInvitation] = useState(() => invitationToken(window.location.hash));
  const [joined, setJoined] = useState<Joined>();
  useEffect(() => {
    const follow = () => (setScreen(currentScreen()), setInvitation(invitationToken(window.location.hash)));
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  useToken(session?.accessToken);

  // Keyboard shortcuts (`?` lists them): Ctrl+K or `/` the search box, `g` then a letter a screen.
  const [helpOpen, setHelpOpen] = useState(false);
  const [searchOpen, setSearchOpen] = useState(false);
  useEffect(() => {
    let afterG = false;
    const onKey = (e: KeyboardEvent) => {
      const shortcut = shortcutOf(e, afterG);
      afterG = shortcut?.kind === "pending";
      if (!shortcut || !session) return;
      if (shortcut.kind === "pending") return;
      e.preventDefault();
      if (shortcut.kind === "help") setHelpOpen(true);
      if (shortcut.kind === "search") setSearchOpen(true);
      if (shortcut.kind === "go") window.location.hash = shortcut.hash;
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [session]);

  const signedIn = (s: Session | undefined) => {
    save(s);
    // Where the tabs look while renewing; a tab that cannot write it still works on its own.
    indexedDb.write(s).catch(() => undefined);
    useToken(s?.accessToken);
    setSession(s);
  };

  // Another tab signed in, renewed or signed out: this one follows.
  useEffect(
    () =>
      watchOtherTabs((s) => {
        useToken(s?.accessToken);
        setSession(s);
      }),
    [],
  );

  // Silent refresh: a minute before the access token expires, once for all the tabs. A refusal
  // ends the session; a CRM not answering is asked again in 15 s while the token lasts.
  const [attempt, setAttempt] = useState(0);
  // Renew at once: what the person may do has changed (a revoked token, a setting changed).
  const [urgent, setUrgent] = useState(0);
  useEffect(() => {
    if (!session) return;
    const delay = attempt > 0 ? 15_000 : urgent > 0 ? 0 : refreshDelay(session);
    const timer = setTimeout(async () => {
      try {
        const renewed = await renew(session, (refreshToken) => auth.refresh({ refreshToken }));
        useToken(renewed?.accessToken);
        setSession(renewed);
        setAttempt(0);
        setUrgent(0);
      } catch (err) {
        const problem = describe(err);
        if (problem.signInAgain || Date.now() >= session.expiresAt) {
          setNotice(problem.signInAgain ? problem.message : t("Your session has ended. Please sign in again."));
          signedIn(undefined);
        } else {
          setAttempt((n) => n + 1);
        }
      }
    }, delay);
    return () => clearTimeout(timer);
  }, [session, attempt, urgent]);

  const signOut = async () => {
    if (session) {
      try {
        await auth.logout({ refreshToken: session.refreshToken });
      } catch {
        // Signed out here either way.
      }
    }
    signedIn(undefined);
  };

  const onError = (err: unknown) => {
    const problem = describe(err);
    if (problem.signInAgain) {
      setNotice(problem.message);
      signedIn(undefined);
    }
    if (problem.renew) setUrgent((n) => n + 1);
    return problem;
  };

  const who = session && claims(session.accessToken);

  // The language: the person's, else the workspace's, else the browser's, asked once signed in.
  const [shown, setShown] = useState<Language>(language);
  const [workspaceLocale, setWorkspaceLocale] = useState<string>();
  const showIn = (l: Language) => setLanguage(l).then(() => setShown(l), () => undefined);
  const follow = (person: string | undefined, workspace: string | undefined) => showIn(chooseLanguage(person, workspace, navigator.languages ?? []));
  useEffect(() => {
    if (!who) return;
    Promise.all([users.getUser({ id: who.userId }), tenants.getTenant({ id: who.tenantId }).catch(() => undefined)])
      .then(([u, w]) => (setWorkspaceLocale(w?.tenant?.settings?.locale), follow(u.user?.locale, w?.tenant?.settings?.locale)))
      .catch(() => undefined);
  }, [who?.userId]);
  // Reps and managers land on their day; who reads no tasks, on the customers.
  const screen = chosen || (grants(who, "tasks.read") ? "#day" : "#customers");
  const leaveInvitation = () => {
    history.replaceState(null, "", window.location.pathname);
    setInvitation(undefined);
  };
  if (invitation && !joined) {
    return <Join token={invitation} onJoined={(j) => (leaveInvitation(), setJoined(j), signOut())} onLeave={leaveInvitation} />;
  }
  if (!session || !who) {
    return (
      <SignIn
        notice={joined ? t("Welcome to {{workspace}}: your password is set.", { workspace: joined.workspace }) : notice}
        joined={joined}
        onSignedIn={(s) => (setNotice(undefined), setJoined(undefined), signedIn(s))}
        onLanguage={showIn}
      />
    );
  }
  return (
    <div class="shell" key={shown}>
      <button type="button" class="skip" onClick={skipToContent}>
        {t("Skip to the first row")}
      </button>
      <button type="button" class="skip" onClick={() => setHelpOpen(true)}>
        {t("Keyboard shortcuts (?)")}
      </button>
      {helpOpen && <ShortcutsHelp onClose={() => setHelpOpen(false)} />}
      {searchOpen && <Search onClose={() => setSearchOpen(false)} onError={onError} />}
      <header class="bar">
        <strong>Kilang CRM</strong>
        <nav aria-label={t("Screens")}>
          {SCREENS.filter((s) => !s.needs || grants(who, s.needs)).map((s) => (
            <a key={s.hash} href={s.hash} aria-current={screen === s.hash ? "page" : undefined}>
              {t(s.label)}
            </a>
          ))}
        </nav>
        <button type="button" class="find" onClick={() => setSearchOpen(true)} aria-keyshortcuts="Control+K /">
          {t("Find")} <kbd>Ctrl K</kbd>
        </button>
        <Bell key={who.userId} userId={who.userId} onError={onError} />
        <span class="who">
          {session.email} · {session.tenant}
          <button type="button" class="link" onClick={signOut}>
            {t("Sign out")}
          </button>
        </span>
      </header>
      <main>
        <Guard key={screen}>
        {screen === "#day" ? (
          <MyDay onError={onError} canApprove={grants(who, "deals.approve_large")} />
        ) : screen === "#pipeline" ? (
          <Pipeline
            onError={onError}
            canAssign={allows(who, "leads.assign")}
            canApprove={grants(who, "deals.approve_large")}
            canManage={allows(who, "pipelines.manage")}
            readAll={reach(who, "opportunities.read") === "all"}
            leadRights={{ userId: who.userId, write: reach(who, "leads.write"), convert: reach(who, "leads.convert") }}
            timelineRights={{ log: grants(who, "activities.write"), task: grants(who, "tasks.write") }}
            shareViews={allows(who, "views.share")}
          />
        ) : screen === "#deals" ? (
          <Deals onError={onError} me={who.userId} readAll={reach(who, "opportunities.read") === "all"} shareViews={allows(who, "views.share")} />
        ) : screen === "#dashboard" ? (
          Dashboard ? (
            <Dashboard onError={onError} me={who.userId} readAll={reach(who, "opportunities.read") === "all"} />
          ) : unloaded ? (
            <p class="error" role="alert">
              {t("The dashboard could not be loaded: the CRM may have been upgraded. Reload the page.")}
            </p>
          ) : (
            <p>{t("Loading the dashboard…")}</p>
          )
        ) : screen === "#admin" ? (
          <Admin
            onError={onError}
            me={who.userId}
            may={{
              manageUsers: allows(who, "users.manage"),
              readAudit: allows(who, "audit.read"),
              manageKeys: allows(who, "api_keys.manage"),
              manageRoles: allows(who, "roles.manage"),
            }}
          />
        ) : screen === "#messages" ? (
          <Messages onError={onError} />
        ) : screen === "#settings" ? (
          <Settings tenantId={who.tenantId} onError={onError} onAccessChanged={() => setUrgent((n) => n + 1)} />
        ) : screen === "#account" ? (
          <Account userId={who.userId} onError={onError} onLanguage={(person) => follow(person, workspaceLocale)} />
        ) : (
          <Customers
            onError={onError}
            may={{
              write: grants(who, "customers.write"),
              writeAll: allows(who, "customers.write"),
              me: who.userId,
              importing: allows(who, "customers.import"),
              tenant: who.tenantId,
              rememberColumns: allows(who, "tenant.manage"),
              shareViews: allows(who, "views.share"),
              exporting: allows(who, "customers.export"),
              remove: allows(who, "customers.delete"),
              openDeals: grants(who, "opportunities.write"),
              logActivities: grants(who, "activities.write"),
              addTasks: grants(who, "tasks.write"),
            }}
          />
        )}
        </Guard>
      </main>
    </div>
  );
}

/** A screen that breaks says so and offers a way on, instead of leaving a blank page. */
function Guard({ children }: { children: ComponentChildren }) {
  const [error, retry] = useErrorBoundary();
  if (!error) return <>{children}</>;
  return (
    <div class="card" role="alert">
      <p>{t("This screen stopped working ({{error}}). The other screens still work.", { error: error instanceof Error ? error.message : String(error) })}</p>
      <div class="actions">
        <button type="button" onClick={retry}>
          {t("Try again")}
        </button>
        <button type="button" class="secondary" onClick={() => window.location.reload()}>
          {t("Reload the page")}
        </button>
      </div>
    </div>
  );
}
