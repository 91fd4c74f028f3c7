// paired microbench: cb_pad vs cb_ceiling_pad, alternating, median ratio
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <random>
#include <algorithm>
#include <chrono>
#include <cmath>
extern "C" {
#include "cubatch.h"
}
static int dsize(int d){return d==10||d==7?2:d==6?8:4;}
int main(int argc,char**argv){
  int B=atoi(argv[1]); int src=atoi(argv[2]); int dst=atoi(argv[3]); int threads=argc>4?atoi(argv[4]):1;
  int rounds=argc>5?atoi(argv[5]):400;
  std::mt19937_64 rng(42); std::lognormal_distribution<double> ln(std::log(300.0),0.6);
  int n=std::max(4096,16*B); std::vector<int64_t> off(n+1); off[0]=0;
  for(int i=0;i<n;i++){int64_t l=std::max<int64_t>(1,std::min<int64_t>(2048,llround(ln(rng))));off[i+1]=off[i]+l;}
  int ss=dsize(src), ds=dsize(dst);
  std::vector<unsigned char> vals(off[n]*ss);
  for(int64_t i=0;i<off[n];i++){int t=(int)(((uint64_t)(i*0x9E3779B97F4A7C15ULL)>>40)%50000);
    if(src==5){int32_t x=t;memcpy(&vals[i*4],&x,4);} else if(src==6){int64_t x=t;memcpy(&vals[i*8],&x,8);} else {float x=t;memcpy(&vals[i*4],&x,4);} }
  std::vector<std::vector<int64_t>> bat(16,std::vector<int64_t>(B)); std::vector<int64_t> Ls(16);
  for(auto&b:bat) for(auto&x:b) x=rng()%n;
  for(int k=0;k<16;k++){int64_t L=0;for(auto x:bat[k])L=std::max(L,off[x+1]-off[x]);Ls[k]=L;}
  int64_t maxL=*std::max_element(Ls.begin(),Ls.end());
  void* out=aligned_alloc(64,((B*maxL*8)+63)/64*64); int32_t* lens=(int32_t*)aligned_alloc(64,4*B+64); uint8_t* mask=(uint8_t*)aligned_alloc(64,(B*maxL+63)/64*64);
  memset(out,0,B*maxL*8); memset(mask,0,B*maxL);
  int64_t err; uint64_t pad=0;
  auto runPad=[&](int k){return cb_pad(vals.data(),src,off.data(),0,1,bat[k].data(),B,Ls[k],Ls[k],1,1,dst,&pad,out,lens,mask,nullptr,threads,&err);};
  auto runCeil=[&](int k){return cb_ceiling_pad(vals.data(),ss,off.data(),bat[k].data(),B,Ls[k],ds,out,lens,mask,threads);};
  // per round: 16 batches each, alternate order
  std::vector<double> ratio, tp, tc;
  auto now=[]{return std::chrono::steady_clock::now();};
  for(int r=0;r<rounds;r++){
    double a=0,c=0;
    for(int rep=0;rep<2;rep++){
      bool pfirst=(r+rep)&1;
      for(int w=0;w<2;w++){
        bool doPad=(w==0)==pfirst;
        auto t0=now();
        for(int k=0;k<16;k++){ int s = doPad? runPad(k):runCeil(k); if(s){printf("status %d\n",s);return 1;} }
        double dt=std::chrono::duration<double>(now()-t0).count();
        if(doPad)a+=dt;else c+=dt;
      }
    }
    ratio.push_back(c/a); tp.push_back(a); tc.push_back(c);
  }
  std::sort(ratio.begin(),ratio.end()); std::sort(tp.begin(),tp.end()); std::sort(tc.begin(),tc.end());
  int m=rounds/2;
  printf("B=%d %d->%d thr=%d: pad/ceiling speed ratio median %.3f [p10 %.3f p90 %.3f]; pad %.1f us/batch ceil %.1f us/batch (medians)\n",
    B,src,dst,threads,ratio[m],ratio[rounds/10],ratio[rounds*9/10],tp[m]/32*1e6,tc[m]/32*1e6);
}
