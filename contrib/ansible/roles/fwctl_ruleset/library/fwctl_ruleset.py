#!/usr/bin/python3
# The declared ruleset of one fwctl gateway, through fwctld's REST API
# over TLS with a bearer token (docs/api.md).

DOCUMENTATION = r'''
module: fwctl_ruleset
short_description: Make a gateway's fwctl ruleset the one declared
description:
  - Reads the declared ruleset (the *.rules files of a directory, in name
    order, as fwctld reads /etc/fwctl/rules.d), asks the gateway for the
    plan with a dry run, and applies it only when the plan is not empty.
  - Check mode is the dry run; with --diff the plan is shown.
  - With I(confirm), the change reverts by itself after that many seconds
    unless the module can confirm it over a new connection: a gateway that
    the new ruleset cuts off goes back to the ruleset before.
options:
  url: {description: "https://ADDR:PORT of fwctld --listen", required: true}
  token: {description: A token of fwctld's tokens file, required: true}
  ca: {description: CA certificate (PEM) that signed fwctld's certificate}
  rules_dir: {description: "Directory of *.rules files, on the machine the module runs on"}
  rules: {description: The ruleset as text, instead of rules_dir}
  confirm: {description: Seconds before an unconfirmed change reverts; 0 applies at once, default: 0}
  timeout: {description: Seconds for each request, default: 10}
'''

import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError


class ApiError(Exception):
    pass


def request(p, method, path, body=None, headers=None):
    """JSON reply and ETag of one request; ApiError with fwctld's words."""
    hdrs = {'Authorization': 'Bearer ' + p['token'],
            'Accept': 'application/json'}
    if body is not None:
        hdrs['Content-Type'] = 'text/plain; charset=utf-8'
        body = body.encode('utf-8')
    hdrs.update(headers or {})
    try:
        r = open_url(p['url'].rstrip('/') + path, method=method, data=body,
                     headers=hdrs, ca_path=p['ca'], validate_certs=True,
                     timeout=p['timeout'], follow_redirects='none')
        return json.loads(r.read() or b'{}'), r.headers.get('ETag')
    except HTTPError as e:
        try:
            prob = json.loads(e.read())
            msg = prob.get('detail') or prob.get('title')
            errs = prob.get('errors') or []
            if errs:
                msg = '; '.join('%s:%s:%s: %s' % (x.get('file', '-'),
                                x.get('line', '-'), x.get('column', '-'),
                                x.get('message', '')) for x in errs)
        except ValueError:
            msg = e.reason
        raise ApiError('%s %s: %s %s' % (method, path, e.code, msg))
    except (URLError, OSError) as e:
        raise ApiError('%s %s: %s' % (method, path, e))


def declared(p, module):
    if p['rules'] is not None:
        return p['rules']
    files = sorted(glob.glob(os.path.join(p['rules_dir'], '*.rules')))
    if not files:
        module.fail_json(msg='%s: no *.rules file' % p['rules_dir'])
    text = ''
    for f in files:
        with open(f, encoding='utf-8') as fh:
            text += fh.read()
        if not text.endswith('\n'):
            text += '\n'
    return text


def plan_text(url, plan):
    signs = {'add': '+', 'remove': '-', 'change': '~'}
    lines = ['%s %s %s' % (signs.get(s['op'], '?'), s['kind'], s['name'])
             for s in plan]
    return 'fwctl plan for %s:\n%s\n' % (url, '\n'.join(lines))


def apply(p, text, gen):
    """Applies; with confirm, confirms over a new connection."""
    q = '?confirm=%d' % p['confirm'] if p['confirm'] > 0 else ''
    reply, _ = request(p, 'PUT', '/v1/ruleset' + q, text,
                       {'If-Match': '"%d"' % gen})
    if p['confirm'] > 0 and reply.get('confirm'):
        try:
            request(p, 'POST', '/v1/confirm')
        except ApiError as e:
            raise ApiError('generation %s applied but not confirmed (%s): '
                           'the gateway reverts it by itself within %d s'
                           % (reply.get('generation'), e, p['confirm']))
    return reply


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type='str', required=True),
            token=dict(type='str', required=True, no_log=True),
            ca=dict(type='path'),
            rules_dir=dict(type='path'),
            rules=dict(type='str'),
            confirm=dict(type='int', default=0),
            timeout=dict(type='int', default=10),
        ),
        mutually_exclusive=[('rules_dir', 'rules')],
        required_one_of=[('rules_dir', 'rules')],
        supports_check_mode=True,
    )
    p = module.params
    if not 0 <= p['confirm'] <= 3600:
        module.fail_json(msg='confirm: %d is not 0 to 3600' % p['confirm'])
    text = declared(p, module)
    try:
        status, _ = request(p, 'GET', '/v1/status')
        if status.get('pending'):
            module.fail_json(msg='generation %s awaits confirmation on %s; '
                             'confirm or revert it first'
                             % (status['pending'].get('generation'), p['url']))
        dry, _ = request(p, 'PUT', '/v1/ruleset?dry_run=1', text)
        plan = dry.get('plan') or []
        result = dict(changed=bool(plan), plan=plan,
                      generation=dry.get('generation'))
        if plan:
            result['diff'] = dict(prepared=plan_text(p['url'], plan))
        if plan and not module.check_mode:
            reply = apply(p, text, dry['generation'])
            result['generation'] = reply.get('generation')
            result['confirmed'] = p['confirm'] > 0
    except ApiError as e:
        module.fail_json(msg=str(e))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
