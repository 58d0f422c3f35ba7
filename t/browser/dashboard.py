#!/usr/bin/python3
"""The dashboard in a real browser: headless Chromium driven by Selenium
against the stack t/api/dashboard.t started. Reads its settings as JSON on
stdin; prints "ok - ..." / "not ok - ..." lines and "# ..." notes that the
Perl wrapper turns into TAP."""
import json
import os
import re
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

cfg = json.load(sys.stdin)
BASE = cfg['base']
failures = 0


def ok(cond, what):
    global failures
    if not cond:
        failures += 1
    print(('ok - ' if cond else 'not ok - ') + what, flush=True)
    return cond


def note(text):
    for line in str(text).splitlines():
        print('# ' + line, flush=True)


def api(method, path, token, body=None):
    """The API as a client sees it: (status, decoded JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header('Authorization', 'Bearer ' + token)
    if data is not None:
        req.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            raw = res.read()
            return res.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


def run_status(run_id):
    return api('GET', '/v1/runs/' + run_id, cfg['key'])[1]['status']


profile = tempfile.mkdtemp(prefix='chromium-', dir=cfg['dir'])
opts = webdriver.ChromeOptions()
opts.binary_location = '/usr/bin/chromium'
for a in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
          '--no-first-run', '--disable-background-networking', '--disable-component-update',
          '--disable-sync', '--user-data-dir=' + profile, '--window-size=1280,1000',
          '--lang=en-GB'):
    opts.add_argument(a)
opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver',
                                          log_path=os.path.join(cfg['dir'], 'chromedriver.log')),
                          options=opts)
console = []


def drain_console():
    console.extend(driver.get_log('browser'))


def wait(cond, what, timeout=20):
    # The pages redraw while polling: an element may go stale mid-check.
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(
                                 lambda d: cond())
    except TimeoutException:  # say what was awaited and what is shown; the next check fails
        note('timed out waiting for: %s at %s; the page shows: %s' % (
            what, driver.current_url, text('main')[:600]))
        return None


def css(sel):
    return driver.find_elements(By.CSS_SELECTOR, sel)


def text(sel):
    """The first match's text, read in one step in the page."""
    return driver.execute_script(
        'const e = document.querySelector(arguments[0]); return e ? e.innerText : ""', sel)


def texts(sel):
    return driver.execute_script(
        'return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)', sel)


def has_button(label, within='.view'):
    return label in texts(within + ' button')


def click_button(label, within='.view'):
    """Clicks the button with this label, again if a redraw replaced it."""
    for _ in range(5):
        try:
            for b in css(within + ' button'):
                if b.text == label:
                    b.click()
                    return True
            return False
        except StaleElementReferenceException:
            time.sleep(0.1)
    return False


def go(hash_):
    driver.execute_script('location.hash = arguments[0]', hash_)


def mark():
    """A marker that a page load would wipe: proves no reload happened."""
    driver.execute_script('window.__dagyMarker = 42')


def still_marked():
    return driver.execute_script('return window.__dagyMarker') == 42


def sign_in(email, password, keyboard=False):
    wait(lambda: css('#email'), 'the sign-in form')
    if keyboard:
        # Keyboard only: focus lands on the heading; Tab into the form.
        body = driver.switch_to.active_element
        body.send_keys(Keys.TAB)
        driver.switch_to.active_element.send_keys(email, Keys.TAB)
        driver.switch_to.active_element.send_keys(password, Keys.ENTER)
    else:
        css('#email')[0].clear()
        css('#email')[0].send_keys(email)
        css('#password')[0].clear()
        css('#password')[0].send_keys(password)
        css('#login button')[0].click()


def no_overflow():
    return driver.execute_script(
        'return document.documentElement.scrollWidth <= window.innerWidth')


def full_shot(name, width):
    """A screenshot of the whole page at this width, not just the window."""
    time.sleep(0.3)
    height = driver.execute_script('return document.documentElement.scrollHeight')
    chrome = driver.execute_script('return window.outerHeight - window.innerHeight')
    driver.set_window_size(width, min(max(height + chrome + 20, 600), 6000))
    time.sleep(0.3)
    path = os.path.join(cfg['shots'], name)
    driver.save_screenshot(path)
    note('screenshot: ' + path)
    driver.set_window_size(width, 1000 if width > 400 else 800)


def session_token():
    return driver.execute_script("return sessionStorage.getItem('dagy.token')")


try:
    driver.get(BASE + '/')
    ok(wait(lambda: css('#email'), 'sign-in') is not None, 'the dashboard opens on the sign-in form')

    # A wrong password: the page shows the API's own message.
    st, body = api('POST', '/v1/auth/login', '', {'email': cfg['email'], 'password': 'nope'})
    sign_in(cfg['email'], 'nope')
    wait(lambda: text('.signin .error'), 'the login error')
    ok(st == 401 and text('.signin .error') == body['message'],
       'a wrong password shows the API message: ' + text('.signin .error'))

    sign_in(cfg['email'], cfg['password'])
    ok(wait(lambda: text('#who .email') == cfg['email'], 'signed in') is not None,
       'signing in with email and password shows who is signed in')
    token = session_token()
    ok(token is not None and token.startswith('dagy_at_'), 'the access token is kept in sessionStorage')
    ok(api('GET', '/v1/me', token)[0] == 200, 'and it works against the API')
    nav = texts('#nav a')
    ok('Members' in nav and 'API keys' in nav, 'an owner sees the admin pages: ' + ', '.join(nav))

    # Trigger the flow registered through the API from its form.
    mark()
    go('#/flows')
    wait(lambda: css('a[href="#/flows/hello"]'), 'the flow list')
    css('a[href="#/flows/hello"]')[0].click()
    wait(lambda: css('#p-greeting'), 'the trigger form')
    ok(css('#p-greeting') and css('#p-greeting')[0].get_attribute('value') == 'hi',
       "the trigger form has the flow's params with their defaults")
    css('#p-greeting')[0].clear()
    css('#p-greeting')[0].send_keys('hello-from-the-form')
    css('#trigger button[type=submit]')[0].click()
    wait(lambda: re.search(r'#/runs/run_', driver.current_url), 'the run page')
    run_id = driver.current_url.split('#/runs/')[-1]
    ok(run_id.startswith('run_'), 'triggering goes to the new run: ' + run_id)
    got = api('GET', '/v1/runs/' + run_id, cfg['key'])[1]
    ok(got.get('parameters', {}).get('greeting') == 'hello-from-the-form',
       "the run got the form's parameter")
    wait(lambda: text('.summary .badge') == 'completed', 'completed on the page', 30)
    ok(text('.summary .badge') == 'completed' and still_marked(),
       'the run page reaches completed without a reload')
    nodes = css('svg.dag .node')
    ok(len(nodes) == 4 and len(css('svg.dag .node.st-success')) == 4,
       'the DAG shows four steps, all coloured success')
    ok(len(css('svg.dag .edge')) == 4, 'with its four edges')
    ok(len(css('.tl-row')) == 4, 'the timeline has a bar for each step')
    ok('hello-from-the-form' in text('.summary') + ''.join(texts('td .value')),
       'the outputs show the value the first step wrote')
    wait(lambda: 'whole log' in text('.logbar .stamp'), 'the full log')
    ok('hello-from-the-form' in text('#log'), "the log shows the steps' output")
    ok(no_overflow(), 'the run page does not overflow a 1280 px window')
    full_shot('run-page.png', 1280)

    # A failed step's stderr, reached with the keyboard from the graph.
    st, body = api('POST', '/v1/runs', cfg['key'], {'flow_name': 'broken'})
    broken = body['run_id']
    go('#/runs/' + broken)
    wait(lambda: text('.summary .badge') == 'failed', 'the broken run fails', 30)
    ok(text('.summary .badge') == 'failed', 'a failing run shows failed')
    ok(css('svg.dag .node.st-failed') and css('svg.dag .node.st-skipped'),
       'its failed step and the skipped one after it are coloured so')
    ok(has_button('Retry run', '.actions'),
       'a failed run offers Retry to its owner')
    driver.execute_script('document.querySelector("#log-step").focus()')
    for _ in range(40):  # Shift+Tab back from the log controls into the graph
        el = driver.switch_to.active_element
        if el.get_attribute('data-step') == 'explode':
            break
        el.send_keys(Keys.SHIFT, Keys.TAB)
    focused = driver.switch_to.active_element.get_attribute('data-step')
    ok(focused == 'explode', 'the failed step in the graph is reachable with the keyboard')
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait(lambda: 'disk on fire' in text('#log'), 'the stderr line')
    err_lines = texts('#log .stream-stderr')
    ok(any('boom: disk on fire' in t for t in err_lines),
       "Enter on it opens that step's log with its stderr: " + '; '.join(err_lines))
    ok(css('#log-step')[0].get_attribute('value') == 'explode', 'the log is filtered to that step')
    full_shot('run-failed.png', 1280)

    # The runs page follows new runs and their status without a reload.
    go('#/runs')
    wait(lambda: css('#runs-body tr'), 'the runs list')
    mark()
    st, body = api('POST', '/v1/runs', cfg['key'], {'flow_name': 'hello'})
    fresh = body['run_id']
    row = '#runs-body tr[data-run="%s"]' % fresh
    wait(lambda: css(row + '[data-status="completed"]'), 'the new run completed in the list', 30)
    ok(css(row + '[data-status="completed"]') and still_marked(),
       'a run started elsewhere appears on the runs page and reaches completed without a reload')
    go('#/runs?status=failed')
    wait(lambda: css('#runs-body tr'), 'the filtered list')
    statuses = {r.get_attribute('data-status') for r in css('#runs-body tr')}
    ok(statuses == {'failed'}, 'filtering by status shows only failed runs')
    go('#/runs?flow=slow')
    wait(lambda: css('#runs-body tr') and set(texts('#runs-body td:nth-child(2)')) == {'slow'},
         'the list filtered by flow')
    ok(set(texts('#runs-body td:nth-child(2)')) == {'slow'} and len(css('#runs-body tr')) == 2,
       'filtering by flow shows only its runs')

    # Cancel a long run from its page.
    slow = cfg['slow_run']
    go('#/runs/' + slow)
    wait(lambda: text('.summary .badge') == 'running', 'the slow run running', 20)
    ok(texts('.actions button').count('Cancel run') == 1, 'a running run offers Cancel to its owner')
    if click_button('Cancel run', '.actions'):
        WebDriverWait(driver, 5).until(lambda d: d.switch_to.alert).accept()
    wait(lambda: text('.summary .badge') == 'cancelled', 'cancelled on the page')
    ok(text('.summary .badge') == 'cancelled', 'after Cancel the page shows cancelled')
    ok(run_status(slow) == 'cancelled', 'and the API says the run is cancelled')

    # Pages whose API may not exist yet show the API's own message.
    for page, path in (('#/secrets', '/v1/secrets'), ('#/environments', '/v1/environments'),
                       ('#/channels', '/v1/channels'), ('#/alert-rules', '/v1/alert-rules'),
                       ('#/deployments', '/v1/deployments'), ('#/schedules', '/v1/schedules'),
                       ('#/members', '/v1/orgs/%s/members' % cfg['org']), ('#/api-keys', '/v1/api-keys')):
        st, body = api('GET', path, token)
        go(page)
        wait(lambda: css('.view table, .view .empty, .view .error'), page)
        if st == 200:
            ok(not css('.view .error') and css('.view table, .view .empty'),
               '%s lists what %s answers' % (page, path))
        else:
            ok(text('.view .error') == body['message'],
               '%s shows the API message for %s: %s' % (page, st, text('.view .error')))
    go('#/secrets')
    wait(lambda: css('.view table, .view .error'), 'the secrets page')
    ok(cfg['secret'] in text('.view table') and 'staging' in text('.view table'),
       'the secrets page lists the secret by name and environment')
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    ok(cfg['secret_value'] not in driver.page_source and not [u for u in fetched if '/value' in u],
       'and never shows or fetches its value')
    go('#/environments')
    wait(lambda: css('.view table, .view .error'), 'the environments page')
    ok('staging' in text('.view table'), 'the environments page lists the environment')
    go('#/schedules')
    wait(lambda: css('.view table'), 'the schedules table')
    ok('Europe/Paris' in text('.view table') or 'CET' in text('.view table')
       or 'CEST' in text('.view table') or 'GMT+' in text('.view table'),
       "a schedule's next fire time is shown in its own zone")
    go('#/deployments')
    wait(lambda: css('.view table'), 'the deployments table')
    ok('hello-prod' in text('.view table'), 'the deployments page lists the deployment')

    # 360 px wide: nothing wider than the screen; tables scroll inside.
    driver.set_window_size(360, 800)
    for page in ('#/runs', '#/flows/hello', '#/runs/' + run_id):
        go(page)
        wait(lambda: css('.view h1'), page)
        time.sleep(0.3)
        ok(no_overflow(), '%s fits a 360 px wide window' % page)
    full_shot('run-page-360.png', 360)
    driver.set_window_size(1280, 1000)

    # Sign out: the token is revoked.
    css('#signout')[0].click()
    wait(lambda: css('#email'), 'the sign-in form after sign-out')
    ok(css('#email') and session_token() is None, 'signing out shows the sign-in form and forgets the token')
    st, body = api('GET', '/v1/me', token)
    ok(st == 401, 'the API answers 401 to the signed-out token: %s' % (body or {}).get('message'))
    print('token ' + token, flush=True)

    # A viewer, signed in with the keyboard only, sees no Cancel.
    sign_in(cfg['viewer_email'], cfg['viewer_password'], keyboard=True)
    ok(wait(lambda: text('#who .role') == 'viewer', 'the viewer') is not None,
       'a viewer signs in with the keyboard only')
    nav = texts('#nav a')
    ok('Members' not in nav and 'API keys' not in nav and 'Runs' in nav,
       'a viewer is not offered the admin pages')
    slow2 = cfg['slow_run2']
    go('#/runs/' + slow2)
    wait(lambda: text('.summary .badge') == 'running', 'the second slow run running', 20)
    ok(text('.summary .badge') == 'running' and
       not has_button('Cancel run'),
       'a viewer sees a running run with no Cancel button')
    go('#/flows/hello')
    wait(lambda: css('.view h2'), "the viewer's flow page")
    ok(not css('#trigger'), 'a viewer gets no trigger form')
    vtoken = session_token()
    st, body = api('POST', '/v1/runs/%s/cancel' % slow2, vtoken)
    ok(st == 403, "the API refuses the viewer's cancel anyway: %s %s" % (st, (body or {}).get('message')))
    ok(run_status(slow2) == 'running', 'and the run keeps running')
    print('viewer_token ' + vtoken, flush=True)
    css('#signout')[0].click()
    wait(lambda: css('#email'), 'signed out')

    # Approve a gate from the page (the admin, by API key).
    st, body = api('POST', '/v1/runs', cfg['key'], {'flow_name': 'gate'})
    gate = body['run_id']
    css('#keylogin')[0].find_element(By.XPATH, '..').find_element(By.TAG_NAME, 'summary').click()
    css('#apikey')[0].send_keys(cfg['key'], Keys.ENTER)
    wait(lambda: text('#who .email') == cfg['email'], 'signed in by key')
    go('#/runs/' + gate)
    wait(lambda: has_button('Approve'), 'the Approve button', 20)
    ok(texts('.view button').count('Approve') == 1 and has_button('Reject'),
       'a step waiting for approval offers Approve and Reject')
    click_button('Approve')
    wait(lambda: text('.summary .badge') == 'completed', 'the gate run completes', 20)
    ok(text('.summary .badge') == 'completed', 'approving lets the run complete')
    css('#signout')[0].click()
    wait(lambda: css('#email'), 'signed out')
    ok(api('GET', '/v1/me', cfg['key'])[0] == 200, 'signing out of a key session leaves the key valid')

    # Every console message: no JavaScript errors; the only failed loads are
    # the answers this test provoked (the wrong password, missing endpoints).
    drain_console()
    bad = []
    for e in console:
        if e['level'] != 'SEVERE':
            continue
        m = e['message']
        if re.search(r'/v1/\S* - Failed to load resource: the server responded with a status of (401|403|404)', m):
            continue
        bad.append(m)
    ok(not bad, 'no errors in the browser console')
    for m in bad:
        note('console: ' + m)
    note('%d console messages, %d expected failed loads' % (len(console), len([e for e in console if e['level'] == 'SEVERE']) - len(bad)))
except Exception:  # report and fail rather than leave the wrapper guessing
    ok(False, 'the browser test ran to its end')
    note(traceback.format_exc())
    try:
        driver.save_screenshot(os.path.join(cfg['shots'], 'failure.png'))
        note('failure screenshot: ' + os.path.join(cfg['shots'], 'failure.png'))
    except Exception:
        pass
finally:
    driver.quit()
sys.exit(1 if failures else 0)
