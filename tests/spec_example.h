/* The example block of SPEC §2, verbatim: the rule language as users first
 * see it, shared by the parser, printer and codec suites. */
#ifndef FWCTL_TEST_SPEC_EXAMPLE_H
#define FWCTL_TEST_SPEC_EXAMPLE_H

static const char spec_example[] =
"zone wan { interface eth0; external }        # external = the internet side\n"
"zone lan { interface eth1; network 192.168.10.0/24, fd00:10::/64 }\n"
"zone dmz { interface eth2; dmz }             # DMZ preset, see below\n"
"\n"
"policy lan -> wan accept                     # default verdict between zones\n"
"policy lan -> dmz accept\n"
"policy any -> self drop                      # self = this host; any = every zone\n"
"policy any -> any drop\n"
"\n"
"set blocklist ipv4 { timeout 1h }            # named set, filled at run time\n"
"set admins ipv4 { 192.168.10.5, 192.168.10.6 }\n"
"\n"
"rule drop-blocked from wan to any src @blocklist drop\n"
"rule ssh  from lan to self tcp dport 22 src @admins accept limit 10/minute\n"
"rule web  from any to self tcp dport { 80, 443 } accept\n"
"rule dns  from lan to self udp dport 53 accept\n"
"rule ping from any to self icmp type echo-request accept limit 5/second\n"
"rule high from lan to wan tcp dport 1024-65535 accept\n"
"rule v6   from lan to self icmpv6 accept\n"
"rule wan-log from wan to self log prefix \"wan-in: \" reject\n"
"\n"
"nat masq  masquerade from lan to wan\n"
"nat dmzout snat from dmz to wan as 203.0.113.10\n"
"nat https forward from wan tcp dport 443 to 10.0.2.10:8443\n"
"nat sshd  forward from wan tcp dport 2222 to 10.0.2.11:22 src 198.51.100.0/24\n";

#endif
