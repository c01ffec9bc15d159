"""The console's own words in Japanese and English. Event messages and catalog labels come
from the catalog (:mod:`kansa.events.present`); everything else the console says is here."""

from __future__ import annotations

from collections.abc import Callable

from kansa.words import Lang, is_lang

DEFAULT_LANG: Lang = "ja"

STRINGS: dict[str, tuple[str, str]] = {
    # frame
    "console": ("監査ログ コンソール", "Audit log console"),
    "skip": ("本文へ移動", "Skip to content"),
    "signed_in_as": ("ログイン中", "Signed in as"),
    "role.admin": ("組織管理者", "Administrator"),
    "role.user": ("一般ユーザー", "User"),
    "region": ("リージョン", "Region"),
    "signout": ("ログアウト", "Sign out"),
    "settings": ("保存設定", "Retention"),
    "settings.title": ("ログの保存設定", "How this log is kept"),
    "settings.retention": ("保存期間", "Retention"),
    "settings.history": ("履歴", "History"),
    "settings.kept": ("保存期間", "Kept"),
    "settings.source": ("設定", "Set by"),
    "settings.days": ("{days}日", "{days} days"),
    "settings.forever": ("無期限", "For ever"),
    "settings.own": ("この組織の設定", "This organisation"),
    "settings.default": ("製品の既定値", "The product's default"),
    "settings.retention_note": (
        "保存期間を過ぎたログは毎日削除され、画面には「保存期間を過ぎたため削除」と表示されます。"
        "改ざん検知のための連鎖は保たれます。",
        "Events past their retention are removed daily and shown as “Removed after its "
        "retention period”; the chain that proves the log intact is kept.",
    ),
    "settings.hold": ("リーガルホールド", "Legal hold"),
    "settings.held": (
        "リーガルホールド中（{reason}、{since}から）：ログは削除されません。",
        "Under legal hold ({reason}, since {since}): nothing is removed.",
    ),
    "settings.not_held": ("リーガルホールドはありません。", "No legal hold."),
    "settings.recorded": (
        "本人の請求による削除・リーガルホールドの記録",
        "Erasures on request and legal holds",
    ),
    "settings.when": ("日時", "When"),
    "settings.what": ("操作", "What"),
    "settings.who": ("実行者", "By"),
    "settings.message": ("内容", "Details"),
    "settings.none": ("記録はありません。", "Nothing recorded."),
    "language": ("言語", "Language"),
    "demo_data": ("デモ", "Demo"),
    # sign-in
    "signin": ("ログイン", "Sign in"),
    "signin.title": ("監査ログにログイン", "Sign in to the audit log"),
    "signin.lead": (
        "組織ID・ログイン名・パスワードを入力してください。",
        "Enter your organisation ID, login name and password.",
    ),
    "signin.tenant": ("組織ID", "Organisation ID"),
    "signin.login": ("ログイン名", "Login name"),
    "signin.password": ("パスワード", "Password"),
    "signin.failed": (
        "組織ID、ログイン名またはパスワードが正しくありません。何度も続けて間違えると、"
        "しばらくログインできなくなります。",
        "The organisation ID, login name or password is wrong. After several wrong "
        "attempts in a row the account is locked for a while.",
    ),
    "signin.throttled": (
        "ログインの失敗が続いたため、しばらくの間この接続元からはログインできません。"
        "時間をおいてからもう一度お試しください。",
        "Too many failed sign-ins from this address. Please wait a while and try again.",
    ),
    "signin.expired": (
        "セッションの有効期限が切れました。もう一度ログインしてください。",
        "Your session has expired. Please sign in again.",
    ),
    "signin.signed_out": ("ログアウトしました。", "You have signed out."),
    "signin.token_failed": (
        "このリンクは無効か、有効期限が切れています。元の画面からもう一度開いてください。",
        "This link is invalid or has expired. Open it again from where you came from.",
    ),
    "signin.no_access": (
        "このアカウントには監査ログを閲覧する権限がありません。監査ログを閲覧できるのは"
        "組織の管理者のみです。",
        "This account may not view the audit log: only the organisation's administrators "
        "can view it.",
    ),
    "signin.csrf": (
        "フォームの有効期限が切れました。もう一度送信してください。",
        "The form has expired. Please send it again.",
    ),
    # the log screen
    "search": ("検索", "Search"),
    "reset": ("リセット", "Reset"),
    "period": ("対象期間", "Period"),
    "period.to": ("〜", "to"),
    "period.hint": ("{start} から今日まで指定できます。", "From {start} to today."),
    "period.any": ("期間の制限はありません。", "Any period."),
    "unspecified": ("指定なし", "Any"),
    "placeholder.word": ("検索したいワードを入力", "Words to search for"),
    "filter.actor": ("ユーザー", "User"),
    "filter.target": ("対象", "Target"),
    "filter.result": ("結果", "Result"),
    "filter.group": ("種別", "Type"),
    "filter.service": ("サービス", "Service"),
    "filter.action": ("操作", "Operation"),
    "filter.category": ("データ種類", "Data type"),
    "filter.level": ("レベル", "Level"),
    "filter.module": ("モジュール", "Module"),
    "filter.history": ("履歴", "History"),
    "filter.text": ("キーワード", "Keywords"),
    "results.count": ("{count} 件表示", "{count} shown"),
    "results.scanned": (
        "「{terms}」は短いため索引を使わず、期間内のログを順に調べました。",
        "“{terms}” is too short for the index: every event of the period was read for it.",
    ),
    "results.none": (
        "条件に一致するログはありません。",
        "No log entries match these conditions.",
    ),
    "next": ("次へ", "Next"),
    "first": ("最初へ", "First page"),
    "details": ("詳細", "Details"),
    "details.open": ("詳細を表示", "Show details"),
    "sort.asc": ("昇順", "ascending"),
    "sort.desc": ("降順", "descending"),
    "sort.by": ("{name}で並べ替え", "Sort by {name}"),
    "chart.title": ("日別の件数（レベル別）", "Events per day by level"),
    "chart.failures": ("失敗・警告・エラー {count} 件", "{count} failed, warnings and errors"),
    "chart.total": ("合計 {count} 件", "{count} in total"),
    "chart.capped": (
        "グラフは先頭 {count} 件から作成しています。",
        "The chart is drawn from the first {count} events.",
    ),
    "chart.peak": ("1日の最大 {count} 件", "Peak: {count} in a day"),
    "download": ("CSVダウンロード", "Download CSV"),
    "download.title": ("ファイル(CSV)をダウンロード", "Download the file (CSV)"),
    "download.note": (
        "ダウンロードには対象期間のみが適用されます。",
        "Only the period applies to the downloaded file.",
    ),
    "columns.edit": ("表示項目の編集", "Edit columns"),
    "columns.title": ("表示項目の編集", "Choose the columns to show"),
    "columns.lead": (
        "ログ一覧に表示する項目にチェックを入れてください。",
        "Tick the items to show in the log list.",
    ),
    "columns.save": ("保存", "Save"),
    "columns.default": ("初期状態に戻す", "Back to the default"),
    "close": ("閉じる", "Close"),
    "cancel": ("キャンセル", "Cancel"),
    "back": ("一覧に戻る", "Back to the list"),
    "own.title": ("自身のログイン履歴", "Your login history"),
    "menu.user": ("ユーザーメニュー", "User menu"),
    # streaming destinations (administrators)
    "destinations.title": ("ログの転送先", "Log destinations"),
    "destinations.lead": (
        "この組織のログを配信している転送先と、その遅れです。転送先の追加・変更は API "
        "または CLI で行います。",
        "Where this organisation's log is delivered, and how far behind each is. "
        "Destinations are added and changed with the API or the CLI.",
    ),
    "destinations.name": ("名前", "Name"),
    "destinations.kind": ("種類", "Kind"),
    "destinations.state": ("状態", "State"),
    "destinations.delivered": ("配信済み seq / 最新 seq", "Delivered seq / newest seq"),
    "destinations.lag": ("遅れ", "Lag"),
    "destinations.lag_value": ("{events}件・{seconds}秒", "{events} events, {seconds} s"),
    "destinations.error": ("最後のエラー", "Last error"),
    "destinations.operator": ("運用者が設定", "set by the operator"),
    "destinations.state.ok": ("正常", "OK"),
    "destinations.state.paused": ("一時停止中", "Paused"),
    "destinations.state.degraded": ("障害中（配信を再試行中）", "Degraded (retrying)"),
    "destinations.none": ("転送先はありません。", "No destinations."),
    "own.note": (
        "あなた自身のログのみ表示しています。",
        "Only your own log entries are shown.",
    ),
    "window.note": ("表示できる期間: {window}", "Period you may see: {window}"),
    "window.days": ("直近 {days} 日間", "the last {days} days"),
    "window.first_of_month": (
        "前年同月の1日から当日まで",
        "from the 1st of the same month last year to today",
    ),
    "window.none": ("制限なし", "no limit"),
    # the detail view
    "detail.title": ("ログの詳細", "Log entry"),
    "detail.states": ("処理の経過", "States of the job"),
    "detail.params": ("パラメータ", "Parameters"),
    "detail.details": ("詳細情報（JSON）", "Details (JSON)"),
    "detail.raw": ("記録されたすべての項目（JSON）", "Every recorded field (JSON)"),
    "detail.chain": ("改ざん検知", "Tamper evidence"),
    "field.occurred_at": ("日時", "Occurred at"),
    "field.received_at": ("受信日時", "Received at"),
    "field.level": ("レベル", "Level"),
    "field.history": ("履歴", "History"),
    "field.category": ("データ種類", "Data type"),
    "field.action_label": ("操作", "Operation"),
    "field.action": ("アクション", "Action"),
    "field.result": ("結果", "Result"),
    "field.message": ("内容", "Message"),
    "field.app": ("アプリケーション名", "Application"),
    "field.actor_name": ("ユーザー名", "User name"),
    "field.actor_login": ("ログイン名", "Login name"),
    "field.actor_id": ("アカウントID", "Account ID"),
    "field.actor_email": ("メールアドレス", "E-mail address"),
    "field.ip": ("IPアドレス", "IP address"),
    "field.user_agent": ("ユーザーエージェント", "User agent"),
    "field.trace_id": ("トレースID", "Trace ID"),
    "field.correlation_id": ("ジョブID", "Job ID"),
    "field.id": ("ログID", "Log ID"),
    "field.client_id": ("送信元ID", "Client ID"),
    "field.seq": ("通番", "Sequence"),
    "field.hash": ("ハッシュ", "Hash"),
    "field.error": ("エラー情報", "Error"),
    "field.targets": ("対象", "Targets"),
    # errors
    "error.title": ("エラー", "Error"),
    "error.forbidden": (
        "この画面を表示する権限がありません。",
        "You are not allowed to see this page.",
    ),
    "error.not_found": ("お探しのログは見つかりません。", "The log entry was not found."),
    "error.query": ("検索条件を確認してください。", "Please check the search conditions."),
    "download.longer": (
        "ダウンロードできる期間（{start} から今日まで）は、画面に表示される期間より長い期間です。",
        "Files may cover a longer period than the screen shows: from {start} to today.",
    ),
    "error.invalid": (
        "送信された内容を処理できませんでした。入力内容を確認して、もう一度お試しください。",
        "What was sent could not be processed. Please check it and try again.",
    ),
    "error.from_after_to": (
        "開始日が終了日より後になっています。",
        "The start date is after the end date.",
    ),
    "error.before_window": (
        "対象期間の開始日は {start} 以降を指定してください。",
        "The period must start on {start} or later.",
    ),
    "error.future": ("終了日に未来の日付は指定できません。", "The end date is in the future."),
    "error.bad_date": ("日付は yyyy/mm/dd で入力してください。", "Enter dates as yyyy/mm/dd."),
    "error.unavailable": (
        "ただいま処理できません。しばらくしてからもう一度お試しください。",
        "This cannot be done right now. Please try again in a moment.",
    ),
}


def translate(lang: Lang, key: str, **values: object) -> str:
    ja, en = STRINGS[key]
    text = ja if lang == "ja" else en
    return text.format(**values) if values else text


def translator(lang: Lang) -> Callable[..., str]:
    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    return t


def pick(asked: str | None, *fallbacks: str | None) -> Lang:
    """The first of ``asked`` and ``fallbacks`` that is a language the console speaks."""
    for lang in (asked, *fallbacks):
        if is_lang(lang):
            return lang
    return DEFAULT_LANG
